#!/usr/bin/env bash
# Install llama-cpp-python built for this CPU's vector extensions (AVX2/FMA/F16C, plus AVX-512
# when the CPU has it) but never AMX, kept as a wheel under ~/.cache/vidllm/wheels so the
# ~9-minute build happens once per machine and CPU kind.
# Why not pip's own build: with -march=native, llama.cpp enables its AMX kernels on CPUs that
# advertise AMX, and they crash (SIGSEGV in ggml_backend_amx_mul_mat) on virtual machines
# whose kernel does not grant AMX tile state - seen on this project's machines.
set -euo pipefail
PY=${1:-.venv/bin/python}
VERSION=0.3.36
FLAGS="-DGGML_NATIVE=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
KIND=generic
if [ "$(uname -m)" = x86_64 ]; then
  FLAGS="$FLAGS -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
  KIND=avx2
  cpu=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
  if [[ " $cpu " == *" avx512f "* && " $cpu " == *" avx512bw "* && " $cpu " == *" avx512vl "* ]]; then
    FLAGS="$FLAGS -DGGML_AVX512=ON"  # ~12% faster prompts than AVX2 here (SmolLM2, 1 thread)
    KIND=avx512
    [[ " $cpu " == *" avx512_vnni "* ]] && FLAGS="$FLAGS -DGGML_AVX512_VNNI=ON" && KIND=$KIND-vnni
    [[ " $cpu " == *" avx512vbmi "* ]] && FLAGS="$FLAGS -DGGML_AVX512_VBMI=ON" && KIND=$KIND-vbmi
    [[ " $cpu " == *" avx512_bf16 "* ]] && FLAGS="$FLAGS -DGGML_AVX512_BF16=ON" && KIND=$KIND-bf16
  fi
fi
WHEELS=${VIDLLM_WHEEL_DIR:-$HOME/.cache/vidllm/wheels/llama-cpp-python-$VERSION-$(uname -m)-$KIND}
if "$PY" -c "import llama_cpp, sys; sys.exit(0 if llama_cpp.__version__ == '$VERSION' and b'AMX' not in llama_cpp.llama_print_system_info() else 1)" 2>/dev/null \
   && [ -f "$(dirname "$PY")/../.llama-cpp-$KIND" ]; then
  exit 0
fi
if ! ls "$WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "building llama-cpp-python $VERSION (once per machine, several minutes) ..." >&2
  mkdir -p "$WHEELS"
  export CMAKE_ARGS="$FLAGS"
  "$PY" -m pip wheel -q --no-cache-dir --no-deps -w "$WHEELS" "llama-cpp-python==$VERSION"
fi
"$PY" -m pip install -q --force-reinstall --no-deps "$WHEELS"/llama_cpp_python-*.whl
"$PY" -m pip install -q "llama-cpp-python==$VERSION"  # its small pure-Python dependencies
touch "$(dirname "$PY")/../.llama-cpp-$KIND"

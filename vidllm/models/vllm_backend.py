"""``vllm:<model id or folder>``: vLLM's offline engine, for GPUs and clusters.

Each request becomes the input vLLM documents for multimodal models (docs: "Multimodal
Inputs"): ``{"prompt": <the model's chat template, rendered>, "multi_modal_data": {"video":
[(frames, metadata)], "image": [...]}, "mm_processor_kwargs": {...}}``, where ``frames`` is the
(T, H, W, 3) uint8 array vidllm sampled and ``metadata`` carries the true frame times the way
the family's processor reads them (the same as the ``hf:`` backend, see ``families.py``), with
``do_sample_frames`` off so vLLM does not sample again. Scale is vLLM's: ``tensor_parallel_size``
and ``pipeline_parallel_size`` split a model over GPUs and nodes, ``distributed_executor_backend
="ray"`` runs across a Ray cluster. ``vllm serve`` is reached through ``openai:`` instead.

>>> model = load_model("vllm:Qwen/Qwen2.5-VL-72B-Instruct", tensor_parallel_size=4,
...                    distributed_executor_backend="ray", max_model_len=32768)  # doctest: +SKIP

What runs here without a GPU (tests/models/test_vllm_backend.py): the request and engine
arguments, checked against that documented format, fed to the family's real HF processor as
vLLM does. What needs a GPU: the engine itself.
"""

from __future__ import annotations

import logging
import time
from typing import Literal

from pydantic import Field

from vidllm.models.base import Backend, BackendOptions, Output, PreparedRequest
from vidllm.models.transformers_backend import (
    HFPrompt,
    load_config_and_processor,
    resolve_target,
)

log = logging.getLogger(__name__)


class VLLMOptions(BackendOptions):
    batch_size: int = Field(64, ge=1, le=100000, description="Requests handed to the engine at once.")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs one model is split across (tensor parallel).")
    pipeline_parallel_size: int = Field(1, ge=1, description="Pipeline stages (across nodes with Ray).")
    distributed_executor_backend: Literal["mp", "ray"] | None = Field(
        None, description="ray for multi-node; mp (one node) by default.")
    dtype: str = Field("auto", description="auto, bfloat16, float16, float32.")
    max_model_len: int | None = Field(None, ge=256, description="Context length (default: the model's).")
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="Share of GPU memory vLLM may take.")
    max_num_seqs: int | None = Field(None, ge=1, description="Sequences scheduled together.")
    max_videos_per_prompt: int = Field(1, ge=0, description="limit_mm_per_prompt for videos.")
    max_images_per_prompt: int = Field(4, ge=0, description="limit_mm_per_prompt for images.")
    enforce_eager: bool = Field(False, description="Skip CUDA graphs (less memory, slower).")
    trust_remote_code: bool = Field(False, description="Run code shipped with the model.")
    revision: str | None = Field(None, description="Hub revision of a model id.")
    local_files_only: bool = Field(False, description="Never reach the Hugging Face Hub for the processor.")
    seed: int = Field(0, description="Engine seed.")
    engine_kwargs: dict = Field(default_factory=dict, description="Any other vllm.LLM argument, as is.")


class VLLMRequests:
    """Builds vLLM's inputs from prepared requests: needs the model's processor, not vLLM."""

    def __init__(self, path: str, target: str, options: VLLMOptions):
        self.path, self.options = path, options
        self.config, self.processor = load_config_and_processor(path, target, options)
        self.prompting = HFPrompt(self.processor, self.config)

    def engine_args(self) -> dict:
        """Keyword arguments of ``vllm.LLM``."""
        o = self.options
        args = {
            "model": self.path,
            "tensor_parallel_size": o.tensor_parallel_size,
            "pipeline_parallel_size": o.pipeline_parallel_size,
            "dtype": o.dtype,
            "gpu_memory_utilization": o.gpu_memory_utilization,
            "limit_mm_per_prompt": {"video": o.max_videos_per_prompt, "image": o.max_images_per_prompt},
            "enforce_eager": o.enforce_eager,
            "trust_remote_code": o.trust_remote_code,
            "seed": o.seed,
        }
        for name in ("distributed_executor_backend", "max_model_len", "max_num_seqs", "revision"):
            if getattr(o, name) is not None:
                args[name] = getattr(o, name)
        return {**args, **o.engine_kwargs}

    def inputs(self, prepared: PreparedRequest) -> dict:
        """One prompt in vLLM's documented multimodal format."""
        conversation, images, videos = self.prompting.conversation(prepared)
        prompt = self.prompting.render(conversation)
        item: dict = {"prompt": prompt}
        data: dict = {}
        kwargs: dict = {}
        if videos:
            kwargs = self.prompting.video_kwargs(videos)
            metadata = kwargs.pop("video_metadata", None) or [None] * len(videos)
            data["video"] = [
                (pv.frames.data, {**meta, "do_sample_frames": False}) if meta is not None else pv.frames.data
                for pv, meta in zip(videos, metadata)
            ]
        if images:
            data["image"] = images
        if data:
            item["multi_modal_data"] = data
        if kwargs:
            item["mm_processor_kwargs"] = kwargs
        return item

    @staticmethod
    def sampling_args(generation) -> dict:
        """Keyword arguments of ``vllm.SamplingParams``."""
        args = {"max_tokens": generation.max_new_tokens, "temperature": generation.temperature,
                "seed": generation.seed}
        if generation.stop:
            args["stop"] = list(generation.stop)
        return args

    def visual_token_ids(self) -> set[int]:
        tok = self.processor.tokenizer
        names = {self.prompting.family.frame_token(self.processor), getattr(self.processor, "image_token", None),
                 getattr(self.processor, "video_token", None)} - {None}
        return {tok.convert_tokens_to_ids(n) for n in names} - {None, tok.unk_token_id}


class VLLMBackend(Backend):
    scheme = "vllm"
    description = "vLLM's offline engine: GPUs, tensor/pipeline parallel, Ray for many nodes"
    requires = ("vllm",)
    install = "pip install vllm (Linux with a CUDA GPU)"
    needs_gpu = True
    Options = VLLMOptions
    version_packages = ("vllm", "transformers", "torch")

    def load(self) -> None:
        from vllm import LLM

        self.path = resolve_target(self.target)
        self.requests = VLLMRequests(self.path, f"vllm:{self.target}", self.options)
        self.family = self.requests.prompting.family
        self.profile = self.requests.prompting.profile
        self.llm = LLM(**self.requests.engine_args())

    def close(self) -> None:
        self.llm = None

    def describe(self) -> dict:
        return {"family": self.family.name, "model_path": self.path,
                "engine": {k: v for k, v in self.requests.engine_args().items() if k != "model"},
                "profile": self.profile.to_dict() if self.profile else None}

    def _generate(self, batch: list[PreparedRequest]) -> list[Output]:
        from vllm import SamplingParams

        began = time.perf_counter()
        items = [self.requests.inputs(p) for p in batch]
        params = [SamplingParams(**self.requests.sampling_args(p.request.generation)) for p in batch]
        encode_s = time.perf_counter() - began
        t = time.perf_counter()
        results = self.llm.generate(items, sampling_params=params, use_tqdm=False)
        model_s = time.perf_counter() - t
        visual = self.requests.visual_token_ids()
        outputs = []
        for item, prepared, result in zip(items, batch, results):
            completion = result.outputs[0]
            prompt_ids = list(result.prompt_token_ids or [])
            outputs.append(Output(
                text=completion.text.strip(), prompt_tokens=len(prompt_ids),
                visual_tokens=sum(1 for i in prompt_ids if i in visual),
                generated_tokens=len(completion.token_ids), finish_reason=completion.finish_reason or "stop",
                manifest={"prompt": item["prompt"], "mm_processor_kwargs": item.get("mm_processor_kwargs", {}),
                          "time_inputs": [{"timing": self.family.timing, "timestamps": pv.timestamps}
                                          for pv in prepared.videos],
                          "predicted_visual_tokens": sum(pv.predicted_tokens or 0 for pv in prepared.videos)},
                timings={"encode_s": round(encode_s, 4), "model_s": round(model_s, 4)},
            ))
        return outputs

"""``hf:<model id or folder>``: a Video-LLM run locally with transformers.

AutoProcessor + AutoModelForImageTextToText (or the class the config names). Frames come from
vidllm's sampler and budget planner, never from the processor's own decoding; the family
(``families.py``) says how their times reach the model. The chat template is the model's own.

>>> model = load_model("hf:llava-hf/LLaVA-NeXT-Video-7B-hf", device="cuda", dtype="float16")  # doctest: +SKIP
>>> model.generate([Request.ask("clip.mp4", "What happens?", spec=SamplingSpec(nframes=16))])[0].text  # doctest: +SKIP
'A man rides a bicycle down a street ...'
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
import typing
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field

from vidllm.errors import (
    BackendError,
    ContextOverflowError,
    ModelNotFoundError,
    ModelURIError,
    UnsupportedInputError,
)
from vidllm.models.base import (
    Backend,
    BackendOptions,
    Output,
    PreparedRequest,
    PreparedVideo,
    conversation_parts,
    has_cuda,
    sha256_text,
)
from vidllm.models.families import Family, _context, family_for
from vidllm.models.request import Image, Text, Video

log = logging.getLogger(__name__)


class HFOptions(BackendOptions):
    device: str = Field("auto", description="auto (a GPU when there is one), cpu, cuda, cuda:N or mps.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="auto: bfloat16 on a GPU that supports it, float32 on the CPU.")
    attn_implementation: str | None = Field(None, description="sdpa, eager, flash_attention_2, ... (model default).")
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit) of a model id.")
    trust_remote_code: bool = Field(False, description="Run code shipped with the model (needed by some families).")
    local_files_only: bool = Field(False, description="Never reach the Hugging Face Hub.")


@dataclass
class Encoded:
    """A processed batch: the model inputs and, per request, what produced them."""

    inputs: object  # transformers BatchFeature
    prompts: list[str]
    videos: list[list[PreparedVideo]]


class TransformersBackend(Backend):
    scheme = "hf"
    description = "a Hugging Face Video-LLM run locally with transformers"
    requires = ("transformers", "torch", "torchvision")
    install = "pip install 'vidllm[hf]'"
    Options = HFOptions
    version_packages = ("transformers", "torch", "torchvision", "accelerate")

    @classmethod
    def notes(cls) -> list[str]:
        notes = []
        if not cls.missing() and not has_cuda():
            notes.append("no CUDA GPU here: models run on the CPU (fine for small ones)")
        for package, why in (("num2words", "SmolVLM2 processors"), ("accelerate", "device_map over several GPUs")):
            if importlib.util.find_spec(package) is None:
                notes.append(f"without {package}: no {why} (pip install {package})")
        return notes

    # -- loading ---------------------------------------------------------------------------------

    def load(self) -> None:
        self.path = resolve_target(self.target)  # before importing torch: a bad path fails fast
        import torch

        opts = self.options
        self.config, self.processor = load_config_and_processor(self.path, f"hf:{self.target}", opts)
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"  # generation continues each row from its right edge
        self.prompting = HFPrompt(self.processor, self.config)
        self.family = self.prompting.family
        self.chat_template = self.prompting.chat_template
        self.profile = self.prompting.profile
        self.device, self.dtype = _pick_device(opts.device, opts.dtype)
        kwargs = {"revision": opts.revision, "trust_remote_code": opts.trust_remote_code,
                  "local_files_only": opts.local_files_only, "dtype": self.dtype}
        if opts.attn_implementation:
            kwargs["attn_implementation"] = opts.attn_implementation
        spread = opts.device == "auto" and self.device.startswith("cuda") and torch.cuda.device_count() > 1
        if spread:
            kwargs["device_map"] = "auto"  # one model over every visible GPU (accelerate)
        self.model = _load_model(self.path, self.config, kwargs, self.target)
        if not spread:
            self.model.to(self.device)
        self.model.eval()
        log.info("loaded %s (%s, family %s) on %s as %s", self.target, self.config.model_type,
                 self.family.name, self.device, self.dtype)

    def close(self) -> None:
        self.model = None
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass

    def describe(self) -> dict:
        return {
            "family": self.family.name,
            "model_type": getattr(self.config, "model_type", None),
            "model_path": self.path,
            "revision": self.options.revision or getattr(self.config, "_commit_hash", None),
            "device": self.device,
            "dtype": str(self.dtype).replace("torch.", ""),
            "profile": self.profile.to_dict() if self.profile else None,
        }

    # -- encoding ----------------------------------------------------------------------------------

    def encode(self, batch: list[PreparedRequest]) -> Encoded:
        """Run the processor on a batch: frames already sampled, times passed as the family wants."""
        prompts, all_images, per_request, flat_videos = [], [], [], []
        for prepared in batch:
            conv, images, videos = self.prompting.conversation(prepared)
            prompts.append(self.prompting.render(conv))
            all_images.append(images)
            per_request.append(videos)
            flat_videos.extend(videos)
        kwargs: dict = {"text": prompts, "padding": True, "return_tensors": "pt"}
        counts = sorted({len(pv.frames) for pv in flat_videos})
        if len(counts) > 1 and not self.family.ragged_batches:
            raise UnsupportedInputError(
                f"{self.family.name} models take the videos of one call as one tensor, so they need the same "
                f"number of frames; got {', '.join(map(str, counts))} (give every video the same nframes)")
        if flat_videos:
            kwargs["videos"] = [pv.frames.data for pv in flat_videos]
            kwargs.update(self.prompting.video_kwargs(flat_videos))
        if any(all_images):
            kwargs["images"] = all_images if len(batch) > 1 else all_images[0]
        try:
            inputs = self.processor(**kwargs)
        except (ValueError, TypeError, RuntimeError) as exc:
            raise BackendError(f"hf:{self.target}: the {type(self.processor).__name__} refused the input: "
                               f"{_first_line(exc)}") from None
        self.family.after_processing(inputs, flat_videos, self.processor)
        return Encoded(inputs, prompts, per_request)

    def visual_token_ids(self) -> set[int]:
        ids = set()
        for token in (self.family.frame_token(self.processor), getattr(self.processor, "image_token", None),
                      getattr(self.processor, "video_token", None)):
            if token:
                tid = self.tokenizer.convert_tokens_to_ids(token)
                if isinstance(tid, int) and tid != self.tokenizer.unk_token_id:
                    ids.add(tid)
        return ids

    # -- generation --------------------------------------------------------------------------------

    def _generate(self, batch: list[PreparedRequest]) -> list[Output]:
        outputs: list[Output | None] = [None] * len(batch)
        for group in self._groups(batch):
            for i, out in zip(group, self._run([batch[i] for i in group])):
                outputs[i] = out
        return outputs

    def _groups(self, batch: list[PreparedRequest]) -> list[list[int]]:
        """Requests that can share one ``generate`` call: same settings and, for processors that
        stack videos into one tensor, same frame counts."""
        groups: dict = {}
        for i, p in enumerate(batch):
            key = (p.request.generation,)
            if not self.family.ragged_batches:
                key += (tuple((len(v.frames), v.frames.width, v.frames.height) for v in p.videos if v.frames),)
            groups.setdefault(key, []).append(i)
        return list(groups.values())

    def _run(self, batch: list[PreparedRequest]) -> list[Output]:
        import torch

        began = time.perf_counter()
        enc = self.encode(batch)
        inputs = enc.inputs.to(self.model.device)
        encode_s = time.perf_counter() - began
        ids, mask = inputs["input_ids"], inputs["attention_mask"]
        prompt_tokens = mask.sum(dim=1).tolist()
        visual = self.visual_token_ids()
        visual_tokens = [int(sum(((ids[r] == v) & (mask[r] == 1)).sum().item() for v in visual))
                         for r in range(ids.shape[0])]
        gen = batch[0].request.generation
        context = _context(self.config)
        for n in prompt_tokens:
            if context and n + gen.max_new_tokens > context:
                raise ContextOverflowError(
                    f"hf:{self.target}: the prompt has {n} tokens and the answer may take {gen.max_new_tokens}, "
                    f"over the model's context of {context}; ask for fewer frames (--max-frames), fewer pixels "
                    f"(--max-pixels) or a smaller visual token budget")
        kwargs = {"max_new_tokens": gen.max_new_tokens, "do_sample": gen.temperature > 0}
        if gen.temperature > 0:
            kwargs["temperature"] = gen.temperature
        else:  # greedy: drop sampling settings the model's generation config may carry
            kwargs.update(temperature=None, top_p=None, top_k=None)
        if gen.stop:
            kwargs.update(stop_strings=list(gen.stop), tokenizer=self.tokenizer)
        pad = self.tokenizer.pad_token_id
        kwargs["pad_token_id"] = pad if pad is not None else self.tokenizer.eos_token_id
        torch.manual_seed(gen.seed)
        t = time.perf_counter()
        with torch.inference_mode():
            out = self.model.generate(**inputs, **kwargs)
        generate_s = time.perf_counter() - t
        new = out[:, ids.shape[1]:].cpu()
        eos = self._eos_ids()
        results = []
        for r in range(len(batch)):
            row = new[r].tolist()
            ends = [i for i, tok in enumerate(row) if tok in eos]
            count = ends[0] + 1 if ends else len([t for t in row if t != pad] or row)
            text = self.tokenizer.decode(row[:count], skip_special_tokens=True)
            finish = "stop" if ends or count < gen.max_new_tokens else "length"
            results.append(Output(
                text=text.strip(), prompt_tokens=int(prompt_tokens[r]), visual_tokens=visual_tokens[r],
                generated_tokens=count, finish_reason=finish,
                manifest=self._manifest(enc, r),
                timings={"encode_s": round(encode_s, 4), "model_s": round(generate_s, 4)},
            ))
        return results

    def _eos_ids(self) -> set[int]:
        eos = getattr(self.model.generation_config, "eos_token_id", None)
        if eos is None:
            eos = self.tokenizer.eos_token_id
        return set(eos if isinstance(eos, (list, tuple)) else [eos]) - {None}

    def _manifest(self, enc: Encoded, row: int) -> dict:
        videos = enc.videos[row]
        times = []
        for pv in videos:
            entry = {"timing": self.family.timing, "timestamps": pv.timestamps}
            if self.family.timing == "grid":
                from vidllm.models.families import Qwen25VL

                entry["sampled_fps"] = round(Qwen25VL.sampled_fps(pv.frames, pv.duration), 6)
            note = self.family.note(pv)
            if note:
                entry["note"] = note
            times.append(entry)
        predicted = [pv.predicted_tokens for pv in videos]
        return {
            "prompt": enc.prompts[row],
            "chat_template": {"source": "model" if self.chat_template else "fallback",
                              "sha256": sha256_text(self.chat_template)},
            "time_inputs": times,
            "predicted_visual_tokens": sum(predicted) if predicted and None not in predicted else None,
        }


# -- helpers -------------------------------------------------------------------------------------


class HFPrompt:
    """A request as its model's chat template wants it; shared by ``hf:`` and ``vllm:``.

    Videos become ``{"type": "video"}`` items in the model's own template, followed by the
    family's time note when it has one; a model with no template gets a plain
    ``Role: text`` prompt with the family's placeholders.
    """

    def __init__(self, processor, config):
        self.processor = processor
        self.family: Family = family_for(getattr(config, "model_type", None))
        self.profile = self.family.profile(config, processor) if hasattr(processor, "video_processor") else None
        template = getattr(processor, "chat_template", None) or getattr(processor.tokenizer, "chat_template", None)
        if isinstance(template, dict):
            template = template.get("default") or next(iter(template.values()), None)
        self.chat_template = template
        self._video_keys = _accepted_keys(getattr(processor, "video_processor", None))

    def video_kwargs(self, videos: list[PreparedVideo]) -> dict:
        """The family's processor arguments for these videos, less any this transformers lacks."""
        extra = self.family.video_kwargs(videos)
        return {k: v for k, v in extra.items() if self._video_keys is None or k in self._video_keys}

    def conversation(self, prepared: PreparedRequest) -> tuple[list[dict], list, list[PreparedVideo]]:
        """The chat-template conversation, the images and the videos of one request, in order."""
        turns: list[dict] = []
        images: list = []
        videos: list[PreparedVideo] = []
        for turn, part, pv in conversation_parts(prepared):
            if not turns or turns[-1]["_turn"] is not turn:
                turns.append({"role": turn.role, "content": [], "_turn": turn})
            content = turns[-1]["content"]
            if isinstance(part, Text):
                content.append({"type": "text", "text": part.text})
            elif isinstance(part, Image):
                content.append({"type": "image"})
                images.append(_load_image(part.source))
            elif isinstance(part, Video):
                content.append({"type": "video"})
                videos.append(pv)
                note = self.family.note(pv)
                if note:
                    content.append({"type": "text", "text": note + "\n"})
        for t in turns:
            del t["_turn"]
        return turns, images, videos

    def render(self, conversation: list[dict]) -> str:
        if self.chat_template:
            return self.processor.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
        markers = self.family.fallback_markers
        lines = []
        for turn in conversation:
            body = "".join(c["text"] if c["type"] == "text" else markers[c["type"]] for c in turn["content"])
            lines.append(f"{turn['role'].capitalize()}: {body}")
        return "\n".join(lines) + "\nAssistant:"



def load_config_and_processor(path: str, target: str, opts):
    """The model's config and processor; a missing model is a one-line ``ModelNotFoundError``."""
    import transformers

    common = {"revision": opts.revision, "trust_remote_code": opts.trust_remote_code,
              "local_files_only": opts.local_files_only}
    try:
        config = transformers.AutoConfig.from_pretrained(path, **common)
    except OSError as exc:
        raise ModelNotFoundError(f"{target}: not a local model folder, and the Hugging Face Hub "
                                 f"could not provide it ({_first_line(exc)})") from None
    except ValueError as exc:
        raise BackendError(f"{target}: {_first_line(exc)}") from None
    try:
        processor = transformers.AutoProcessor.from_pretrained(path, **common)
    except (OSError, ValueError, TypeError) as exc:
        raise BackendError(f"{target}: its processor cannot be loaded ({_first_line(exc)}); a video backend "
                           "needs a vision-language model with its processor files") from None
    if getattr(processor, "tokenizer", None) is None:
        raise BackendError(f"{target}: its processor has no tokenizer; is this a vision-language model?")
    return config, processor


def resolve_target(target: str) -> str:
    """A local folder (which must exist and hold a config.json) or a hub id, as given."""
    if not target:
        raise ModelURIError("hf: needs a model id or a local folder, e.g. hf:Qwen/Qwen2.5-VL-3B-Instruct "
                            "or hf:/models/my-vlm")
    path = os.path.expanduser(target)
    local = target.startswith(("/", "./", "../", "~")) or os.path.exists(path)
    if not local:
        return target
    if not os.path.isdir(path):
        raise ModelNotFoundError(f"hf:{target}: no such model folder")
    if not os.path.exists(os.path.join(path, "config.json")):
        raise ModelNotFoundError(f"hf:{target}: not a model folder (no config.json in it)")
    return os.path.abspath(path)


def _load_model(path: str, config, kwargs: dict, target: str):
    from vidllm.hfutil import quiet_loading

    with quiet_loading():
        return _load_model_class(path, config, kwargs, target)


def _load_model_class(path: str, config, kwargs: dict, target: str):
    import transformers

    try:
        return transformers.AutoModelForImageTextToText.from_pretrained(path, **kwargs)
    except ValueError as exc:  # not an image-text-to-text architecture: try the config's own class
        first = exc
    except OSError as exc:
        raise BackendError(f"hf:{target}: the weights cannot be loaded ({_first_line(exc)})") from None
    for arch in getattr(config, "architectures", None) or []:
        cls = getattr(transformers, arch, None)
        if cls is not None:
            return cls.from_pretrained(path, **kwargs)
    raise BackendError(f"hf:{target}: transformers has no image-text-to-text model for "
                       f"{config.model_type!r} ({_first_line(first)})")


def _pick_device(device: str, dtype: str):
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            device = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendError(f"device {device!r} asked for, but no CUDA GPU is visible")
    if dtype == "auto":
        if device.startswith("cuda"):
            chosen = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            chosen = torch.float32  # half precision on a CPU is slow or unsupported
    else:
        chosen = getattr(torch, dtype)
    return device, chosen


def _accepted_keys(video_processor) -> set[str] | None:
    kinds = getattr(video_processor, "valid_kwargs", None)
    if kinds is None:
        return None
    try:
        return set(typing.get_type_hints(kinds)) | {"fps"}
    except Exception:  # a typed dict whose hints cannot be resolved: pass everything
        return None


def _load_image(source):
    from PIL import Image as PILImage

    if isinstance(source, np.ndarray):
        return PILImage.fromarray(source)
    from transformers.image_utils import load_image

    return load_image(source)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]

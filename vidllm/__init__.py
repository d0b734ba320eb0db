"""vidllm: understand video with large language models.

>>> import vidllm
>>> answer = vidllm.ask("clip.mp4", "What number is on the sign?")  # doctest: +SKIP
>>> answer.answer, [(e.start, e.end) for e in answer.evidence]  # doctest: +SKIP
('42', [(3.0, 5.0)])
"""

from __future__ import annotations

__version__ = "0.1.0"


def ask(video, question: str, **settings):
    """Ask ``video`` a question; returns an ``Answer``. The model is ``settings["model"]``, else
    ``$VIDLLM_MODEL``, else the embedded default (see ``vidllm.tasks.ask.ask`` for the rest)."""
    from vidllm.tasks.ask import ask as _ask

    return _ask(video, question, **settings)


def sample(video, spec=None, **spec_fields):
    """Sample frames: ``vidllm.sample("a.mp4", fps=1, max_frames=32)`` -> ``Frames``."""
    from vidllm.video.sample import sample_frames
    from vidllm.video.spec import SamplingSpec

    return sample_frames(video, spec or SamplingSpec.from_fields(spec_fields))


def probe(video):
    from vidllm.video.sample import probe as _probe

    return _probe(video)

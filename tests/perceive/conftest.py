"""Clips with known ground truth for the perception tools, generated once per session.

Each generator returns the clip's path and the facts a test checks against (when the text is
shown, when the speech is heard, where the disc goes).
"""

from __future__ import annotations

import media
import numpy as np
import pytest
from media import DISC_TRAVEL, SIGN_SHOWN  # noqa: F401  (the tests import them from here)

from vidllm.perceive.base import PerceptionInput
from vidllm.video.sample import probe, sample_frames


def perception_input(path, tool) -> PerceptionInput:
    """What ``vidllm.perceive.analyze`` hands a tool: frames in the tool's preferred sampling."""
    info = probe(path)
    spec = tool.sampling(info.duration) if hasattr(tool, "sampling") else None
    frames = sample_frames(path, spec) if spec is not None else None
    return PerceptionInput(frames=frames, video_path=str(path), duration=info.duration, has_audio=info.has_audio)


@pytest.fixture(scope="session")
def sign_clip(media_dir):
    """8 s, 1280x720: a blank panel, with "EXIT 42" on it only from 3 s to 5 s."""
    return media.sign_clip(media_dir / "sign.mp4")


@pytest.fixture(scope="session")
def disc_clip(media_dir):
    """4 s, 640x360, 25 fps: a red disc crossing a light grey picture from left to right."""
    return media.moving_disc_clip(media_dir / "disc.mp4")


@pytest.fixture(scope="session")
def disc_clip_leftwards(media_dir):
    """A blue disc crossing from right to left: the direction must come from the motion."""
    return media.moving_disc_clip(media_dir / "disc_left.mp4", colour=(30, 40, 210), direction="left")


def espeak_samples(sentence: str) -> np.ndarray:
    if not media.espeak_available():
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng); it speaks the test sentence")
    return media.espeak_samples(sentence)


@pytest.fixture(scope="session")
def speech_clip(media_dir):
    """7 s: a still picture; "the meeting starts at nine" spoken from 2 s. Returns the path and
    the (start, end) of the voice, measured on the samples."""
    if not media.espeak_available():
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng); it speaks the test sentence")
    return media.speech_clip(media_dir / "speech.mp4")

"""The request and response types: building, validation (table of cases), serialisation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vidllm.errors import SpecError
from vidllm.models import Generation, Image, Request, Response, Text, Turn, Usage, Video
from vidllm.video.spec import SamplingSpec


def test_ask_is_a_one_liner():
    req = Request.ask("clip.mp4", "What number is shown?", spec=SamplingSpec(fps=1, max_frames=16),
                      system="Be brief.", options=["A. 3", "B. 7"], max_new_tokens=8, stop=["\n"], budget=2048, id="q1")
    system, user = req.turns
    assert system.role == "system" and system.text == "Be brief."
    video, text = user.content
    assert isinstance(video, Video) and video.source == "clip.mp4" and video.spec.fps == 1
    assert text.text == "What number is shown?\nA. 3\nB. 7\nAnswer with the option's letter."
    assert req.generation == Generation(max_new_tokens=8, stop=("\n",))
    assert (req.budget, req.id) == (2048, "q1")
    assert req.videos() == [video] and req.images() == []


def test_turn_content_accepts_strings_and_parts():
    turn = Turn("user", ("Look:", Image(np.zeros((4, 4, 3), np.uint8)), Video("a.mp4")))
    assert [p.kind for p in turn.content] == ["text", "image", "video"]
    assert Turn("assistant", "Sure.").content == (Text("Sure."),)
    assert Video("a.mp4").spec == SamplingSpec(fps=1.0, max_frames=32)  # the named default


def test_chat_messages_with_qwen_style_video_fields():
    req = Request.chat([
        {"role": "system", "content": "You watch videos."},
        {"role": "user", "content": [{"type": "video", "video": "a.mp4", "fps": 2.0, "max_frames": 32},
                                     {"type": "image", "image": "b.png"}, {"type": "text", "text": "Same place?"}]},
    ], generation=Generation(max_new_tokens=4))
    video = req.videos()[0]
    assert video.spec == SamplingSpec(fps=2.0, max_frames=32)
    assert req.images()[0].source == "b.png"
    assert req.generation.max_new_tokens == 4


@pytest.mark.parametrize("build, words", [
    (lambda: Request(()), "at least one turn"),
    (lambda: Request((Turn("user", "hi"), Turn("assistant", "hello"))), "last turn must be the user's"),
    (lambda: Turn("robot", "hi"), "role must be one of"),
    (lambda: Turn("system", (Video("a.mp4"),)), "only user turns may hold images or videos"),
    (lambda: Turn("user", ()), "needs some content"),
    (lambda: Turn("user", (42,)), "got int"),
    (lambda: Generation(max_new_tokens=0), "max_new_tokens must be >= 1"),
    (lambda: Generation(temperature=-0.1), "temperature must be >= 0"),
    (lambda: Generation(stop=("",)), "stop strings must not be empty"),
    (lambda: Image(np.zeros((4, 4), np.uint8)), "uint8 (H, W, 3)"),
    (lambda: Image(""), "needs a path, URL or array"),
    (lambda: Video("a.mp4", spec={"fps": 1}), "must be a SamplingSpec"),
    (lambda: Video("a.mp4", budget=0), "budget must be >= 1"),
    (lambda: Request((Turn("user", "hi"),), budget=0), "budget must be >= 1"),
    (lambda: Request.chat([{"role": "user", "content": [{"type": "audio", "audio": "x.wav"}]}]), "unknown content type"),
])
def test_invalid_requests_are_refused_in_one_line(build, words):
    with pytest.raises(SpecError) as info:
        build()
    assert words in str(info.value) and "\n" not in str(info.value)


def test_to_dict_is_json():
    req = Request.ask("clip.mp4", "Q?", spec=SamplingSpec(nframes=4))
    data = json.loads(json.dumps(req.to_dict()))
    assert data["turns"][0]["content"][0] == {"type": "video", "source": "clip.mp4", "spec": {"nframes": 4, "start": 0.0,
                                                                                              "mode": "exact", "size_factor": 1}}
    resp = Response("yes", Usage(10, 4, 1), {"total_s": 1.0}, {"model": "m"}, request_id="r")
    assert resp.to_dict()["usage"] == {"prompt_tokens": 10, "visual_tokens": 4, "generated_tokens": 1, "total_tokens": 11}
    assert Usage(None, None, 3).total_tokens is None
    assert "yes" in repr(resp)

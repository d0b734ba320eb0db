"""Stream sessions over HTTP on a real server on 127.0.0.1: a generated clip whose sign shows
"EXIT 42" from 3.2 s to 6 s, replayed through a session with the deterministic checks (OCR, no
model); events read as server-sent events with httpx. A watch speaks after the text appears and
never before; asks are answered at their stream time and after the source ended; DELETE ends the
event stream; forbidden sources, bad bodies and unknown ids get one-line OpenAI errors; sessions
beyond the limit get 429; stopping the server closes its sessions."""

from __future__ import annotations

import json
import os
import time

import httpx2
import pytest
from echo_backend import EchoBackend
from serve_support import KEY
from stream_media import text_events_clip

from vidllm.serve.app import create_app
from vidllm.serve.config import ServeConfig
from vidllm.serve.server import ServerThread
from vidllm.video.synthetic import make_clip

pytestmark = pytest.mark.timeout(300)

AUTH = {"Authorization": f"Bearer {KEY}"}
SHOWN = (3.2, 6.0)  # "EXIT 42" is on the sign in [3.2, 6.0) of an 8 s clip
WATCH = 'tell me when the text "EXIT 42" appears'
NOW = "What does the sign say now?"
CHEAP = {"checks_only": True, "tools": [], "fps": 2}  # no model, no perception tool: the cheapest session


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """The allowed folder: the sign clip, a 60 s clip for live replays, a text file, a symlink out."""
    root = tmp_path_factory.mktemp("streams")
    allowed, outside = root / "allowed", root / "outside"
    allowed.mkdir()
    outside.mkdir()
    text_events_clip(allowed / "sign.mp4", [(*SHOWN, "EXIT 42")], duration=8)
    make_clip(allowed / "long.mp4", nframes=300, fps=5, size=(160, 120))
    (allowed / "notes.txt").write_text("not a video")
    make_clip(outside / "secret.mp4", nframes=10, fps=5, size=(64, 48))
    os.symlink(outside / "secret.mp4", allowed / "link.mp4")
    return allowed


@pytest.fixture(scope="module")
def server(start_server, folder):
    return start_server(EchoBackend(), allowed_local_media_path=folder, max_streams=2, max_source_pixels=640 * 360)


def post(server, path: str, body, headers=AUTH) -> httpx2.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx2.post(server.url + path, content=data, headers={**headers, "Content-Type": "application/json"},
                       timeout=60)


def create(server, **body) -> dict:
    response = post(server, "/streams", body)
    assert response.status_code == 200, response.text
    return response.json()


def delete(server, path: str) -> httpx2.Response:
    return httpx2.delete(server.url + path, headers=AUTH, timeout=60)


def events(server, stream_id: str, until=lambda event: False, after: int = 0, on_first=None) -> list[dict]:
    """The session's events (parsed SSE) until ``until(event)`` or the server ends the stream;
    ``on_first(event)`` runs once the first event has arrived (the reader is then connected)."""
    seen, fields = [], {}
    with httpx2.stream("GET", f"{server.url}/streams/{stream_id}/events", params={"after": after}, headers=AUTH,
                       timeout=120) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith(":"):  # a ping
                continue
            if line:
                name, _, value = line.partition(":")
                fields[name] = value.strip()
                continue
            if "data" not in fields:
                continue
            event = json.loads(fields["data"])
            assert event["type"] == fields["event"] and int(fields["id"]) > after
            event["seq"], fields = int(fields["id"]), {}
            seen.append(event)
            if on_first and len(seen) == 1:
                on_first(event)
            if until(event):
                break
    return seen


def finished(event: dict) -> bool:
    return event["type"] == "status" and event["state"] in ("finished", "failed")


def one_line_error(response: httpx2.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json" and "\n" not in response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["code"] == status
    return error


def wait_for(server, stream_id: str, state: str) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = httpx2.get(f"{server.url}/streams/{stream_id}", headers=AUTH).json()
        if found["state"] == state:
            return found
        time.sleep(0.1)
    raise AssertionError(f"stream {stream_id} never reached {state}")


def test_watch_speaks_after_the_text_appears_and_asks_answer_at_their_time(server):
    stream = create(server, source="sign.mp4", checks_only=True, tools=["ocr"], fps=2, realtime=False, questions=[
        {"question": WATCH, "mode": "watch"},
        {"question": NOW, "mode": "ask", "at": 2.0},  # before the text
        {"question": NOW, "mode": "ask", "at": 5.0},  # while it is shown
        {"question": 'tell me when the text "CLOSED" appears', "mode": "watch"}])  # never shown
    assert stream["questions"] == ["q1", "q2", "q3", "q4"] and stream["model"] is None
    seen = events(server, stream["id"], until=finished)
    answers = [e for e in seen if e["type"] == "answer"]
    assert [a["question_id"] for a in answers] == ["q2", "q1", "q3"]  # in stream-time order
    before, watch, during = answers
    assert before["stream_time"] == 2.0 and before["answer"].startswith("no text")
    # the watch: after the text appeared (the first 2 fps frame on or after 3.2 s), never before
    assert watch["decided_by"] == "text-match" and "EXIT 42" in watch["answer"]
    assert SHOWN[0] <= watch["evidence_time"] <= SHOWN[0] + 0.5 <= SHOWN[1]
    assert watch["evidence_time"] <= watch["stream_time"] and watch["used_until"] <= watch["stream_time"]
    assert 0 <= watch["delay"] <= 0.5
    assert during["stream_time"] == 5.0 and during["answer"] == '"EXIT 42"' and during["decided_by"] == "text-read"
    assert [e["question_id"] for e in seen if e["type"] == "ended"] == ["q1", "q4"]  # open when the source ended
    times = [e["stream_time"] for e in seen if e["type"] == "status"]
    assert times == sorted(times) and seen[-1]["state"] == "finished" and seen[-1]["frames"] == 16

    # after the end: asks are answered from memory (now 7.5 s; 3 s ago the sign said EXIT 42), watches refused
    asked = post(server, f"/streams/{stream['id']}/questions", {"question": "What was written 3 seconds ago?"}).json()
    assert asked["id"] == "q5" and asked["mode"] == "ask"
    [late] = events(server, stream["id"], until=lambda e: e["type"] == "answer", after=seen[-1]["seq"])
    assert late["question_id"] == "q5" and late["answer"] == '"EXIT 42"' and late["stream_time"] == 7.5
    refused = post(server, f"/streams/{stream['id']}/questions", {"question": WATCH, "mode": "watch"})
    assert "has ended" in one_line_error(refused, 409)["message"]
    assert delete(server, f"/streams/{stream['id']}").json()["deleted"] is True


def test_watch_posted_during_a_real_speed_replay(server):
    """The live path: questions posted over HTTP while the file plays at real speed."""
    stream = create(server, source="sign.mp4", checks_only=True, tools=["ocr"], fps=2)  # realtime by default
    assert stream["realtime"] is True
    posted = post(server, f"/streams/{stream['id']}/questions", {"question": WATCH, "mode": "watch"})
    assert posted.status_code == 200 and posted.json()["id"] == "q1"
    seen = events(server, stream["id"], until=finished)
    [watch] = [e for e in seen if e["type"] == "answer"]
    assert watch["question_id"] == "q1" and "EXIT 42" in watch["answer"]
    assert SHOWN[0] <= watch["evidence_time"] <= watch["stream_time"] and watch["delay"] >= 0
    assert seen[-1]["state"] == "finished"
    delete(server, f"/streams/{stream['id']}")


def test_the_served_model_answers_other_questions_with_frames_up_to_now(server):
    """Without checks_only the server's own model is lent to the session; it sees memory frames
    with their true times, none after the moment it answers."""
    stream = create(server, source="sign.mp4", tools=[], fps=2, realtime=False,
                    questions=[{"question": "Is the man cooking?", "at": 4.0}])
    assert stream["model"] == "served"
    [answer] = [e for e in events(server, stream["id"], until=finished) if e["type"] == "answer"]
    assert answer["decided_by"] == "model" and answer["stream_time"] == 4.0
    [video] = json.loads(answer["answer"])["videos"]  # EchoBackend says what it was shown
    assert 1 <= video["frames"] <= 8 and max(video["times"]) == 4.0 == answer["used_until"]
    assert set(video["times"]) <= {k * 0.5 for k in range(9)}  # true times of the 2 fps stream
    delete(server, f"/streams/{stream['id']}")


def test_delete_ends_the_event_stream_and_frees_the_session(server):
    stream = create(server, source="long.mp4", **CHEAP, questions=[{"question": WATCH, "mode": "watch"}])
    deleted = []
    seen = events(server, stream["id"],
                  on_first=lambda event: deleted.append(delete(server, f"/streams/{stream['id']}")))
    # the reader was connected when the session was deleted: its stream ended with "end"
    assert deleted[0].status_code == 200 and deleted[0].json() == {"id": stream["id"], "object": "stream",
                                                                   "deleted": True}
    assert seen[-1]["type"] == "end" and seen[-1]["reason"] == "deleted" and seen[-1]["state"] == "closed"
    assert seen[-1]["frames"] < 120  # 60 s at 2 fps, stopped long before
    assert not [e for e in seen if e["type"] == "answer"]
    one_line_error(httpx2.get(f"{server.url}/streams/{stream['id']}", headers=AUTH), 404)
    one_line_error(delete(server, f"/streams/{stream['id']}"), 404)
    assert httpx2.get(server.url + "/streams", headers=AUTH).json()["data"] == []


def test_sessions_beyond_the_limit_get_429(server):
    first, second = (create(server, source="long.mp4", **CHEAP) for _ in range(2))
    refused = post(server, "/streams", {"source": "long.mp4", **CHEAP})
    error = one_line_error(refused, 429)
    assert error["type"] == "rate_limit_error" and "at most 2" in error["message"]
    assert refused.headers["retry-after"]
    assert delete(server, f"/streams/{first['id']}").status_code == 200
    third = create(server, source="long.mp4", **CHEAP)  # a slot came free
    listed = {s["id"] for s in httpx2.get(server.url + "/streams", headers=AUTH).json()["data"]}
    assert listed == {second["id"], third["id"]}
    for stream in (second, third):
        delete(server, f"/streams/{stream['id']}")


def test_a_session_whose_source_ended_is_freed_after_stream_keep(start_server, folder):
    keeping = start_server(EchoBackend(), allowed_local_media_path=folder, max_source_pixels=640 * 360,
                           stream_keep=0.5)
    stream = create(keeping, source="sign.mp4", **CHEAP, realtime=False)
    assert events(keeping, stream["id"], until=finished)[-1]["state"] == "finished"
    deadline = time.monotonic() + 60
    while httpx2.get(f"{keeping.url}/streams/{stream['id']}", headers=AUTH).status_code == 200:
        assert time.monotonic() < deadline, "the finished session was never freed"
        time.sleep(0.2)
    assert httpx2.get(keeping.url + "/streams", headers=AUTH).json()["data"] == []


@pytest.fixture(scope="module")
def remote_server(start_server, folder):
    """Remote media allowed; pictures up to 320x240 (the conftest's ceiling)."""
    return start_server(EchoBackend(), allowed_local_media_path=folder, allow_remote_media=True)


# (source, status, on the server that allows remote media too)
SOURCES = [
    ("/etc/passwd", 403, False),
    ("file:///etc/passwd", 403, False),
    ("FILE:///etc/hosts", 403, False),
    ("file://example.org/etc/passwd", 403, False),
    ("../outside/secret.mp4", 403, False),
    ("link.mp4", 403, False),  # a symlink out of the folder
    ("rtsp://203.0.113.7/live", 403, False),  # network streams are off
    ("device:/dev/video0", 403, False),
    ("rtsp://127.0.0.1:8554/live", 403, True),
    ("rtmp://localhost/app/key", 403, True),
    ("http://169.254.169.254/latest/meta-data", 403, True),
    ("udp://10.0.0.1:5000", 403, True),
    ("http://[::1]:8000/index.m3u8", 403, True),
    ("udp://@:5000", 403, True),  # listening, no host to check
    ("device:/dev/video0", 403, True),
    ("sign.mp4", 413, True),  # 640x360, above that server's ceiling
    ("ftp://example.org/x.mp4", 400, False),
    ("data:video/mp4;base64,AAAA", 400, False),
    ("missing.mp4", 400, False),
    ("notes.txt", 400, False),
    ("file-" + "0" * 32, 400, False),  # an upload id never uploaded
]


@pytest.mark.parametrize("source, status, remote", SOURCES, ids=[f"{s[0]}-{'remote' if s[2] else 'local'}"
                                                                    for s in SOURCES])
def test_forbidden_or_unreadable_sources_are_refused(server, remote_server, folder, source, status, remote):
    target = remote_server if remote else server
    error = one_line_error(post(target, "/streams", {"source": source, **CHEAP}), status)
    assert str(folder) not in error["message"] and "secret" not in error["message"].replace(source, "")
    assert httpx2.get(target.url + "/streams", headers=AUTH).json()["data"] == []  # no slot held
    assert httpx2.get(target.base + "/health").status_code == 200


# (case, path, body, status, param)
BAD = [
    ("malformed JSON", "/streams", b'{"source": ', 400, None),
    ("no source", "/streams", {}, 400, "source"),
    ("source not a string", "/streams", {"source": 5}, 400, "source"),
    ("fps above the ceiling", "/streams", {"source": "sign.mp4", "fps": 100}, 400, "fps"),
    ("fps zero", "/streams", {"source": "sign.mp4", "fps": 0}, 400, "fps"),
    ("realtime a string", "/streams", {"source": "sign.mp4", "realtime": "yes"}, 400, "realtime"),
    ("unknown tool", "/streams", {"source": "sign.mp4", "tools": ["speech"]}, 400, "tools.0"),
    ("unknown field", "/streams", {"source": "sign.mp4", "speed": 2}, 400, "speed"),
    ("bad question mode", "/streams", {"source": "sign.mp4", "questions": [{"question": "x", "mode": "later"}]},
     400, "questions.0.mode"),
    ("unknown model", "/streams", {"source": "sign.mp4", "model": "gpt-5"}, 404, "model"),
    ("question of an unknown stream", "/streams/stream-nope/questions", {"question": "x"}, 404, None),
]


@pytest.mark.parametrize("case, path, body, status, param", BAD, ids=[b[0] for b in BAD])
def test_bad_requests_get_one_line_errors(server, case, path, body, status, param):
    error = one_line_error(post(server, path, body), status)
    if param:
        assert error["param"] == param


def test_questions_unknown_ids_and_the_key(server):
    stream = create(server, source="long.mp4", **CHEAP)
    questions = f"/streams/{stream['id']}/questions"
    for body in ({"question": ""}, {"question": "x", "mode": "ask", "at": -1}, {"text": "x"}):
        one_line_error(post(server, questions, body), 400)
    watch = post(server, questions, {"question": "count the jumps", "mode": "watch"}).json()
    assert delete(server, f"{questions}/{watch['id']}").json()["cancelled"] is True
    one_line_error(delete(server, f"{questions}/{watch['id']}"), 404)  # already cancelled
    one_line_error(delete(server, f"{questions}/q99"), 404)
    cancelled = events(server, stream["id"], until=lambda e: e["type"] == "cancelled")[-1]
    assert cancelled["question_id"] == watch["id"] and cancelled["question"] == "count the jumps"
    for method, path in [("GET", "/streams/stream-nope"), ("GET", "/streams/stream-nope/events"),
                         ("DELETE", "/streams/stream-nope")]:
        one_line_error(httpx2.request(method, server.url + path, headers=AUTH), 404)
    one_line_error(httpx2.get(server.url + "/streams"), 401)
    one_line_error(post(server, "/streams", {"source": "sign.mp4"}, headers={}), 401)
    delete(server, f"/streams/{stream['id']}")


def test_stopping_the_server_closes_its_sessions(folder):
    app = create_app(ServeConfig(model="echo", name="served", api_key=KEY, allowed_local_media_path=folder),
                     EchoBackend())
    server = ServerThread(app)
    try:
        stream_id = create(server, source="long.mp4", **CHEAP)["id"]
        wait_for(server, stream_id, "running")
        served = app.state.streams.get(stream_id)
    finally:
        server.close()
    assert len(app.state.streams) == 0 and served.state == "closed" and not served.alive
    assert served.log.closed and served.log.after(0)[0][-1][2]["reason"] == "the server is stopping"

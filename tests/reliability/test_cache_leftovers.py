"""Temporary files of the frame cache left by a killed writer are swept; a live writer's are not.

A real writer process is killed with SIGKILL while its frames are half written (it says when,
on a pipe, so the kill lands there every time); another writer stays alive meanwhile. Eviction
and ``vidllm cache clear`` must remove the dead writer's file, and files of no known writer once
they are old, and leave the live writer's file, which it then finishes into an entry.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from vidllm.video.cache import STALE_TEMP_SECONDS, FrameCache

SHAPE = (4, 48, 64, 3)
# a writer that streams two of four frames into a cache entry, says so, and waits to be killed
WRITER = """
import sys, time
import numpy as np
from vidllm.video.cache import FrameCache

writer = FrameCache(sys.argv[1]).writer("killed", (4, 48, 64, 3))
for row in range(2):
    writer.write(row, np.full((48, 64, 3), row, np.uint8))
print(writer.tmp, flush=True)
time.sleep(600)
"""


def killed_writer_leftover(root: Path) -> Path:
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root)], stdout=subprocess.PIPE, text=True)
    try:
        tmp = Path(proc.stdout.readline().strip())
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    assert tmp.name.startswith(f".tmp-{proc.pid}@") and tmp.exists()
    return tmp


def nameless_leftovers(folder: Path) -> tuple[Path, Path]:
    """Temporary files in an older vidllm's naming (no pid): one old, one being written now."""
    old, fresh = folder / ".tmp-abc123.npy", folder / ".tmp-def456"
    old.write_bytes(b"x" * 1000)
    fresh.write_bytes(b"y" * 10)
    stale = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(old, (stale, stale))
    return old, fresh


def test_eviction_sweeps_what_killed_writers_left(tmp_path):
    cache = FrameCache(tmp_path)
    dead = killed_writer_leftover(tmp_path)
    live = cache.writer("live", SHAPE)  # this process: alive
    live.write(0, np.zeros(SHAPE[1:], np.uint8))
    old, fresh = nameless_leftovers(cache.frames_dir)
    cache.index_dir.mkdir()
    old_index, _ = nameless_leftovers(cache.index_dir)

    cache.put_meta("other", {"timestamps": []})  # every write evicts, and sweeps
    assert not dead.exists() and not old.exists() and not old_index.exists()
    assert Path(live.tmp).exists() and fresh.exists()

    data = live.finish()  # the live writer is not disturbed
    cache.put_meta("live", {"timestamps": [0.0, 1.0, 2.0, 3.0]})
    assert cache.get("live") is not None and data.shape == SHAPE


def test_cache_clear_removes_leftovers_but_not_a_live_writers_file(tmp_path):
    cache = FrameCache(tmp_path)
    dead = killed_writer_leftover(tmp_path)
    old, fresh = nameless_leftovers(cache.frames_dir)
    live = cache.writer("live", SHAPE)
    cache.put_meta("kept-before", {"timestamps": []})

    env = {**os.environ, "VIDLLM_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "vidllm", "cache", "clear"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not dead.exists() and not old.exists()
    assert not (cache.frames_dir / "kept-before.json").exists()
    assert Path(live.tmp).exists()
    # fresh has no pid and is young: it may be a live writer of an older vidllm, so it stays
    assert fresh.exists()
    live.finish()
    assert (cache.frames_dir / "live.npy").exists()

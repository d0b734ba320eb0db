"""Blocking work (reading media, sampling frames, generating) off the event loop, bounded.

``Runner`` admits at most the model's ``concurrency`` plus ``max_queue`` requests at once; the
next one is refused at once (HTTP 429) instead of waiting without end. A ``Job`` is one admitted
request: it runs its steps in the runner's threads, and its slot and temporary folder are given
back only when its last thread is done, also when the client stopped waiting (a timeout, a
closed stream): a thread that cannot be interrupted still holds what it uses.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from vidllm.serve.media import Workspace


class Runner:
    def __init__(self, concurrency: int, max_queue: int):
        self.capacity = max(1, concurrency) + max_queue
        # threads: the model's concurrency plus two preparing the next requests (reading media,
        # sampling); the rest of the admitted wait in the executor's queue. Few threads keep
        # memory flat: each thread that decodes video keeps its own malloc arena warm.
        self.executor = ThreadPoolExecutor(max_workers=max(1, concurrency) + 2, thread_name_prefix="vidllm-serve")
        self._lock = threading.Lock()
        self.active = 0

    def admit(self) -> "Job | None":
        with self._lock:
            if self.active >= self.capacity:
                return None
            self.active += 1
        return Job(self)

    def _release(self) -> None:
        with self._lock:
            self.active -= 1

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


class Job:
    def __init__(self, runner: Runner):
        self.runner = runner
        self.work = Workspace()
        self._lock = threading.Lock()
        self._running = 0
        self._finished = False
        self._released = False

    async def run(self, fn, *args, timeout: float):
        """``fn(*args)`` in a worker thread; ``asyncio.TimeoutError`` after ``timeout`` seconds
        (the thread finishes on its own; the job keeps its slot until it does)."""
        return await asyncio.wait_for(self.start(fn, *args), max(timeout, 0.001))

    def start(self, fn, *args) -> asyncio.Future:
        with self._lock:
            self._running += 1
        future = self.runner.executor.submit(fn, *args)
        future.add_done_callback(self._thread_done)
        return asyncio.wrap_future(future)

    def _thread_done(self, _future) -> None:
        with self._lock:
            self._running -= 1
        self._maybe_release()

    def finish(self) -> None:
        """The request is over for the client; resources go once no thread uses them."""
        with self._lock:
            self._finished = True
        self._maybe_release()

    def _maybe_release(self) -> None:
        with self._lock:
            if not self._finished or self._running or self._released:
                return
            self._released = True
        self.work.close()
        self.runner._release()

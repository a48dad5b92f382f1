"""One model, one worker: requests wait their turn in a first-in, first-out queue.

The page submits a job and polls it; while it waits it learns how many jobs are ahead of it.
A job's work runs on the single worker thread (the network is never run by two requests at
once, so memory stays that of one prediction), its result or its error message is kept for
the page to fetch, and only the last ``keep`` finished jobs are kept (each one's ``cleanup``
is called when it is dropped: the result's files are deleted).
"""

from __future__ import annotations

import itertools
import queue
import secrets
import threading
import traceback
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from msdepth.errors import MsdepthError


class QueueFull(MsdepthError):
    """Too many requests are waiting; the page says so and the user tries again later."""


@dataclass
class Job:
    """A request in the queue: ``work()`` returns the result; states queued/running/done/error."""

    id: str
    work: Callable[[], Any]
    number: int  # submission order, for the position in the queue
    state: str = "queued"
    result: Any = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


class JobQueue:
    """FIFO jobs run one at a time on a worker thread; ``describe(id)`` says where each is."""

    def __init__(self, max_waiting: int = 32, keep: int = 8):
        self.max_waiting = max_waiting
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._pending: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._numbers = itertools.count()
        self._started = 0  # number of the job the worker took last, + 1
        self._worker = threading.Thread(target=self._run, name="msdepth-app-worker", daemon=True)
        self._worker.start()

    def submit(self, work: Callable[[], Any]) -> Job:
        """Queue ``work``; `QueueFull` when ``max_waiting`` jobs already wait."""
        with self._lock:
            waiting = sum(job.state == "queued" for job in self._jobs.values())
            if waiting >= self.max_waiting:
                raise QueueFull(
                    f"the app is busy: {waiting} requests are waiting; try again in a minute"
                )
            job = Job(secrets.token_hex(8), work, next(self._numbers))
            self._jobs[job.id] = job
        self._pending.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def position(self, job: Job) -> int:
        """How many jobs run or wait before ``job`` (0 = it is running or next)."""
        with self._lock:
            return sum(
                other.state in ("queued", "running") and other.number < job.number
                for other in self._jobs.values()
            )

    def close(self) -> None:
        """Stop the worker after the job it runs; forget every job (their cleanups run)."""
        self._pending.put(None)
        self._worker.join(timeout=60)
        with self._lock:
            jobs = list(self._jobs.values())
            self._jobs.clear()
        for job in jobs:
            _cleanup(job)

    def _run(self) -> None:
        while True:
            job = self._pending.get()
            if job is None:
                return
            with self._lock:
                job.state = "running"
            try:
                result, state, error = job.work(), "done", None
            except MsdepthError as exc:
                result, state, error = None, "error", " ".join(str(exc).split())
            except MemoryError:
                result, state, error = None, "error", "out of memory; try a smaller photo"
            except Exception as exc:  # a bug: its traceback on stderr, the page says so
                traceback.print_exc()
                result, state = None, "error"
                error = f"internal error ({type(exc).__name__}: {exc}); please report it"
            with self._lock:
                job.result, job.error, job.state = result, error, state
                dropped = self._forget_old()
            job.done.set()
            for old in dropped:
                _cleanup(old)

    def _forget_old(self) -> list[Job]:
        finished = [j for j in self._jobs.values() if j.state in ("done", "error")]
        dropped = finished[: max(0, len(finished) - self.keep)]
        for job in dropped:
            del self._jobs[job.id]
        return dropped


def _cleanup(job: Job) -> None:
    cleanup = getattr(job.result, "cleanup", None)
    if callable(cleanup):
        cleanup()

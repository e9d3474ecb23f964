"""Background work (dataset imports, updates and splits, trainings, copies, model loading) that
must not block requests.

Jobs run on a small thread pool, keyed by the ARN of the resource they work on, so that a call
in `instant` timing can wait for the jobs of the resources it looks at (bounded), as the timing
model promises; and each knows when its transition is due, so that a test clock advanced past
that time can wait for it too.

When the server stops, `stopping` is set: a long job (a training, an import) raises `Cancelled`
at its next checkpoint and ends failed, a short one finishes, a queued one still runs (and so
ends one way or the other); `close` waits for them, so none is cut off by the store closing.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable
from typing import NamedTuple

log = logging.getLogger("fakerek.jobs")


class Cancelled(Exception):
    """The server is stopping: the job ends now, as a service error."""


class Jobs:
    def __init__(self, workers: int = 2):
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="job")
        self._running: dict[str, _Job] = {}
        self._pending: set[concurrent.futures.Future[None]] = set()  # submitted, not ended
        self._lock = threading.Lock()
        self.stopping = threading.Event()

    def submit(self, keys: list[str], due_ms: int, work: Callable[[], object]) -> None:
        """Run `work` in the background; `keys` name the resources it settles, `due_ms` is when
        the transition it ends is over on the server's clock."""

        def run() -> None:
            try:
                work()
            except Exception:  # the job records its own failure; this is a last resort
                log.exception("background job for %s failed", keys)
            finally:
                with self._lock:
                    self._pending.discard(job.future)
                    for key in keys:
                        if self._running.get(key) is job:
                            del self._running[key]

        with self._lock:
            job = _Job(self._pool.submit(run), due_ms)
            self._pending.add(job.future)
            for key in keys:
                self._running[key] = job

    def idle(self) -> bool:
        """No job runs now (a glance without the lock: a job submitted a moment later is one
        the caller could not have waited for anyway)."""
        return not self._running

    def wait_for(self, covers: Callable[[str], bool], timeout: float) -> None:
        """Block until the jobs on every key `covers` have ended, or `timeout` seconds pass."""
        with self._lock:
            futures = {job.future for key, job in self._running.items() if covers(key)}
        if futures:
            concurrent.futures.wait(futures, timeout)

    def wait_due(self, now_ms: int, timeout: float) -> None:
        """Block until every job whose transition is over by `now_ms` has ended (bounded): a
        clock moved past a transition's end finds its work done, however long it took."""
        with self._lock:
            futures = {job.future for job in self._running.values() if job.due_ms <= now_ms}
        concurrent.futures.wait(futures, timeout)

    def wait_all(self, timeout: float) -> None:
        with self._lock:
            futures = {job.future for job in self._running.values()}
        concurrent.futures.wait(futures, timeout)

    def close(self, timeout: float) -> bool:
        """Stop: long jobs are cancelled at their next checkpoint, every job submitted runs to
        its end; wait up to `timeout` seconds for them. Whether all ended."""
        self.stopping.set()
        with self._lock:
            futures = list(self._pending)
        _, unfinished = concurrent.futures.wait(futures, timeout)
        self._pool.shutdown(wait=False)
        if unfinished:
            log.warning("%d background job(s) still running at the stop", len(unfinished))
        return not unfinished


class _Job(NamedTuple):
    future: concurrent.futures.Future[None]
    due_ms: int

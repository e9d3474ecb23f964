"""Background work (dataset imports, updates and splits, trainings, copies, model loading) that
must not block requests.

Jobs run on a small thread pool, keyed by the ARN of the resource they work on, so that a read
in `instant` timing can wait for the job of the resource it looks at (bounded), as the timing
model promises.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections.abc import Callable

log = logging.getLogger("fakerek.jobs")


class Jobs:
    def __init__(self, workers: int = 2):
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="job")
        self._running: dict[str, concurrent.futures.Future] = {}
        self._lock = threading.Lock()

    def submit(self, keys: list[str], work: Callable[[], None]) -> None:
        """Run `work` in the background; `keys` name the resources it settles."""

        def run() -> None:
            try:
                work()
            except Exception:  # the job records its own failure; this is a last resort
                log.exception("background job for %s failed", keys)
            finally:
                with self._lock:
                    for key in keys:
                        if self._running.get(key) is future:
                            del self._running[key]

        with self._lock:
            future = self._pool.submit(run)
            for key in keys:
                self._running[key] = future

    def wait(self, key: str, timeout: float) -> None:
        """Block until the job working on `key` (if any) ends, or `timeout` seconds pass."""
        with self._lock:
            future = self._running.get(key)
        if future is not None:
            concurrent.futures.wait([future], timeout)

    def wait_all(self, timeout: float) -> None:
        with self._lock:
            futures = list(self._running.values())
        concurrent.futures.wait(futures, timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

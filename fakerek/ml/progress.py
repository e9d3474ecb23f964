"""Progress lines for long work on images (embedding, pooling): done / total, where the results
came from, and the rate, in the server log every PROGRESS_SECONDS and once at the end."""

from __future__ import annotations

import logging
import time

log = logging.getLogger("fakerek.training")
PROGRESS_SECONDS = 5.0  # how often long work reports progress


class Progress:
    """Logs images done / total, where their vectors came from, and the rate: every
    PROGRESS_SECONDS, and once at the end."""

    def __init__(self, total: int, what: str):
        self.total, self.what = total, what
        self.count = 0
        self.sources: dict[str, int] = {}
        self.finished = False
        self.started = self.reported = time.monotonic()

    def advance(self, **sources: int) -> None:
        for source, count in sources.items():
            self.sources[source] = self.sources.get(source, 0) + count
            self.count += count
        now = time.monotonic()
        if now - self.reported >= PROGRESS_SECONDS and self.count < self.total:
            self.reported = now
            self._log()

    def done(self) -> None:
        if self.count and not self.finished:
            self.finished = True
            self._log()

    def _log(self) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        where = ", ".join(f"{n} {source.replace('_', ' ')}" for source, n in self.sources.items())
        log.info(
            "%s: %d/%d images (%s), %.0f images/s",
            self.what,
            self.count,
            self.total,
            where,
            self.count / elapsed,
        )

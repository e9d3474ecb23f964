"""The one clock of a server: what every status, timestamp, bill and throughput limit reads.

It is wall time (epoch milliseconds, the unit every stored timestamp uses) until a test takes
hold of it through `/_fakerek/clock`: `freeze` stops it, `advance` pushes it forward, and then
status transitions, trainings' end and billed time, autoscaling and usage all follow, as if that
much time had passed. It never runs backwards while it lives (a wall clock stepped back by NTP is
held at the last time given), so durations measured on it are never negative, nor across a
restart: a server starts its clock no earlier than the last time its store recorded
(`resume_from`); `reset` returns it to wall time.
"""

from __future__ import annotations

import threading
import time


def wall_ms() -> int:
    """Wall-clock epoch milliseconds, for what no test clock should move (S3's bookkeeping)."""
    return time.time_ns() // 1_000_000


class Clock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset_ns = 0
        self._frozen_ns: int | None = None
        self._last_ns = 0

    def _now_ns(self) -> int:
        """Nanoseconds since the epoch, never fewer than the last reading (hold the lock)."""
        if self._frozen_ns is not None:
            return self._frozen_ns
        self._last_ns = max(self._last_ns, time.time_ns() + self._offset_ns)
        return self._last_ns

    def now_ms(self) -> int:
        """Epoch milliseconds: creation times, transitions, a training's end."""
        with self._lock:
            return self._now_ns() // 1_000_000

    def now(self) -> float:
        """Epoch seconds with sub-millisecond precision: throughput, autoscaling, usage."""
        with self._lock:
            return self._now_ns() / 1e9

    @property
    def frozen(self) -> bool:
        return self._frozen_ns is not None

    def advance(self, seconds: float) -> None:
        """Move the clock `seconds` (>= 0) forward, frozen or not."""
        step = round(seconds * 1e9)
        with self._lock:
            if self._frozen_ns is not None:
                self._frozen_ns += step
            else:
                self._offset_ns += step
                self._last_ns += step

    def freeze(self, frozen: bool) -> None:
        """Stop the clock (only `advance` moves it then), or let it run on from where it stands."""
        with self._lock:
            if frozen and self._frozen_ns is None:
                self._frozen_ns = self._now_ns()
            elif not frozen and self._frozen_ns is not None:
                self._offset_ns = self._frozen_ns - time.time_ns()
                self._last_ns = self._frozen_ns
                self._frozen_ns = None

    def resume_from(self, epoch_ms: int) -> None:
        """Run on from `epoch_ms` if wall time is behind it: a restarted server whose test clock
        had been advanced neither undoes the transitions it showed nor issues earlier times."""
        with self._lock:
            behind_ns = epoch_ms * 1_000_000 - time.time_ns()
            if self._frozen_ns is None and behind_ns > self._offset_ns:
                self._offset_ns = behind_ns
                self._last_ns = max(self._last_ns, epoch_ms * 1_000_000)

    def reset(self) -> None:
        """Wall time again, running."""
        with self._lock:
            self._offset_ns = 0
            self._frozen_ns = None
            self._last_ns = 0

"""Status transitions and their timing.

A transition that AWS runs asynchronously is stored as timestamps: when it started and when it
ends (`start + delay`). Status is computed from those on every read, so it needs no background
thread and survives restarts. With `instant` timing the delay is zero and the next read already
sees the final state; the call that starts the transition still answers the intermediate status.
"""

from __future__ import annotations

import sqlite3

from fakerek.config import Settings


def ends_at(settings: Settings, transition: str, start_ms: int) -> int:
    """When a transition of kind `transition` (a `delays` key) that starts now will be over."""
    return start_ms + round(settings.delay(transition) * 1000)


def project_status(row: sqlite3.Row) -> str:
    return "DELETING" if row["deleting_ms"] is not None else "CREATED"

"""Adapters' base models, and the base moderation models released through the control API.

An adapter (a version of a CONTENT_MODERATION project) records the base model it was trained
on. Releasing a newer base model stamps every adapter trained on an older one with when it was
deprecated and when its grace period ends; its status follows from those times
(`domain.moderation.adapter_status`), so it needs no background work and survives restarts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import NamedTuple

from fakerek.store.db import placeholders


class Adapter(NamedTuple):
    version_id: int
    base_model: str
    deprecated_ms: int | None  # a newer base model was released then
    expires_ms: int | None  # its grace period ends then


class Release(NamedTuple):
    version: str
    released_ms: int
    grace_ms: int


def insert(tx: sqlite3.Connection, version_id: int, base_model: str) -> None:
    tx.execute(
        "INSERT INTO adapters (version_id, base_model) VALUES (?, ?)", (version_id, base_model)
    )


def of_versions(conn: sqlite3.Connection, version_ids: Sequence[int]) -> dict[int, Adapter]:
    if not version_ids:
        return {}
    rows = conn.execute(
        "SELECT version_id, base_model, deprecated_ms, expires_ms FROM adapters "
        f"WHERE version_id IN ({placeholders('v', len(version_ids))})",
        {f"v{i}": v for i, v in enumerate(version_ids)},
    )
    return {row[0]: Adapter(*row) for row in rows}


def releases(conn: sqlite3.Connection) -> list[Release]:
    """The base models released through the control API, oldest first."""
    rows = conn.execute("SELECT version, released_ms, grace_ms FROM base_models ORDER BY position")
    return [Release(*row) for row in rows]


def release(tx: sqlite3.Connection, version: str, released_ms: int, grace_ms: int) -> list[int]:
    """Record a new base model; deprecate every adapter trained on another one and not yet
    deprecated. Returns the ids of the versions it deprecated."""
    tx.execute(
        "INSERT INTO base_models (version, released_ms, grace_ms) VALUES (?, ?, ?)",
        (version, released_ms, grace_ms),
    )
    rows = tx.execute(
        "UPDATE adapters SET deprecated_ms = ?, expires_ms = ? "
        "WHERE base_model != ? AND deprecated_ms IS NULL RETURNING version_id",
        (released_ms, released_ms + grace_ms, version),
    ).fetchall()
    return sorted(row[0] for row in rows)


def expire(tx: sqlite3.Connection, now_ms: int) -> list[int]:
    """End every grace period still running now; the ids of the versions it expired."""
    rows = tx.execute(
        "UPDATE adapters SET expires_ms = ? "
        "WHERE deprecated_ms IS NOT NULL AND expires_ms > ? RETURNING version_id",
        (now_ms, now_ms),
    ).fetchall()
    return sorted(row[0] for row in rows)


def trained(conn: sqlite3.Connection) -> list[tuple[int, str | None]]:
    """Every adapter of a live project whose training ended well, with the project's
    AutoUpdate."""
    rows = conn.execute(
        "SELECT v.id, p.auto_update FROM adapters a JOIN versions v ON v.id = a.version_id "
        "JOIN projects p ON p.id = v.project_id WHERE p.deleting_ms IS NULL "
        "AND v.deleting_ms IS NULL AND v.phase = 'TRAINING' AND v.outcome = 'COMPLETED' "
        "ORDER BY v.id"
    ).fetchall()
    return [(row[0], row[1]) for row in rows]

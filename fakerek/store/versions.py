"""Project version (model) rows. `request` keeps what CreateProjectVersion was given; `results`
what training produced (locations, metrics), both as JSON."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from fakerek.store.db import placeholders, row_id

LIVE = "(v.gone_ms IS NULL OR v.gone_ms > :now)"
_SELECT = (
    "SELECT v.*, p.account, p.region, p.name AS project_name, p.arn AS project_arn, "
    "p.feature FROM versions v JOIN projects p ON p.id = v.project_id"
)


def purge_gone(tx: sqlite3.Connection, now_ms: int) -> list[int]:
    """Remove finished deletions; return their ids (their model files can go too)."""
    ids = [row[0] for row in tx.execute("SELECT id FROM versions WHERE gone_ms <= ?", (now_ms,))]
    tx.execute(
        "DELETE FROM tags WHERE arn IN (SELECT arn FROM versions WHERE gone_ms <= ?)", (now_ms,)
    )
    tx.execute("DELETE FROM versions WHERE gone_ms <= ?", (now_ms,))
    return ids


def insert(
    tx: sqlite3.Connection,
    *,
    project_id: int,
    name: str,
    arn: str,
    created_ms: int,
    ready_ms: int,
    request: dict[str, Any],
    phase: str = "TRAINING",
) -> int:
    return row_id(
        tx.execute(
            "INSERT INTO versions (project_id, name, arn, created_ms, phase, ready_ms, request) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (project_id, name, arn, created_ms, phase, ready_ms, json.dumps(request)),
        )
    )


def by_arn(
    conn: sqlite3.Connection, account: str, region: str, arn: str, now_ms: int
) -> sqlite3.Row | None:
    return conn.execute(
        f"{_SELECT} WHERE v.arn = :arn AND p.account = :account AND p.region = :region AND {LIVE}",
        {"arn": arn, "account": account, "region": region, "now": now_ms},
    ).fetchone()


def by_id(conn: sqlite3.Connection, version_id: int) -> sqlite3.Row | None:
    return conn.execute(f"{_SELECT} WHERE v.id = ?", (version_id,)).fetchone()


def by_name(conn: sqlite3.Connection, project_id: int, name: str) -> sqlite3.Row | None:
    return conn.execute(
        f"{_SELECT} WHERE v.project_id = ? AND v.name = ?", (project_id, name)
    ).fetchone()


def page(
    conn: sqlite3.Connection,
    project_id: int,
    now_ms: int,
    *,
    names: Sequence[str] | None,
    before_ms: int | None,
    limit: int,
) -> list[sqlite3.Row]:
    """Newest first, created before `before_ms`."""
    params: dict = {
        "project": project_id,
        "now": now_ms,
        "limit": limit,
        "before": 2**62 if before_ms is None else before_ms,
    }
    where = [f"v.project_id = :project AND {LIVE} AND v.created_ms < :before"]
    if names is not None:
        where.append(f"v.name IN ({placeholders('n', len(names))})")
        params.update({f"n{i}": n for i, n in enumerate(names)})
    return conn.execute(
        f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY v.created_ms DESC LIMIT :limit", params
    ).fetchall()


def count_live(conn: sqlite3.Connection, project_id: int, now_ms: int) -> int:
    return conn.execute(
        f"SELECT count(*) FROM versions v WHERE v.project_id = :p AND {LIVE}",
        {"p": project_id, "now": now_ms},
    ).fetchone()[0]


def unfinished(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute(f"{_SELECT} WHERE v.outcome IS NULL").fetchall()


def finish(
    tx: sqlite3.Connection,
    version_id: int,
    outcome: str,
    finished_ms: int,
    message: str | None,
    results: dict[str, Any],
    training_end_ms: int | None,
) -> None:
    """`training_end_ms`: when the training ended as clients see it (None: not a training,
    the stored value stays)."""
    tx.execute(
        "UPDATE versions SET outcome = ?, finished_ms = ?, message = ?, results = ?, "
        "training_end_ms = coalesce(?, training_end_ms) WHERE id = ?",
        (outcome, finished_ms, message, json.dumps(results), training_end_ms, version_id),
    )


def mark_deleting(tx: sqlite3.Connection, version_id: int, deleting_ms: int, gone_ms: int) -> None:
    tx.execute(
        "UPDATE versions SET deleting_ms = ?, gone_ms = ? WHERE id = ?",
        (deleting_ms, gone_ms, version_id),
    )


def in_phase(conn: sqlite3.Connection, project_id: int, phase: str, now_ms: int) -> int:
    """How many models of the project are still in `phase` (TRAINING, COPYING...) at `now_ms`."""
    return conn.execute(
        f"SELECT count(*) FROM versions v WHERE v.project_id = :p AND {LIVE} "
        "AND v.deleting_ms IS NULL AND v.phase = :phase "
        "AND (v.outcome IS NULL OR v.ready_ms > :now)",
        {"p": project_id, "phase": phase, "now": now_ms},
    ).fetchone()[0]


def change_phase(
    tx: sqlite3.Connection, version_id: int, phase: str, now_ms: int, ready_ms: int
) -> None:
    """Start a phase whose work is done at once (starting, stopping); it shows until ready_ms."""
    tx.execute(
        "UPDATE versions SET phase = ?, outcome = 'COMPLETED', finished_ms = ?, "
        "ready_ms = ?, message = NULL WHERE id = ?",
        (phase, now_ms, ready_ms, version_id),
    )


def set_units(tx: sqlite3.Connection, version_id: int, minimum: int, maximum: int | None) -> None:
    tx.execute(
        "UPDATE versions SET min_units = ?, max_units = ? WHERE id = ?",
        (minimum, maximum, version_id),
    )


def fail_phase(tx: sqlite3.Connection, version_id: int, now_ms: int, message: str) -> None:
    """End the current phase as FAILED, keeping what training produced."""
    tx.execute(
        "UPDATE versions SET outcome = 'FAILED', finished_ms = ?, ready_ms = ?, "
        "message = ? WHERE id = ?",
        (now_ms, now_ms, message, version_id),
    )

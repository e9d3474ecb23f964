"""Project versions (models). `request` keeps what CreateProjectVersion was given; `results`
what training produced (locations, metrics), both stored as JSON."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from fakerek.api.wire import JsonObject
from fakerek.domain.lifecycle import VersionOutcome, VersionPhase
from fakerek.store.db import Conn, Tx, placeholders, row_id, scalar
from fakerek.store.records import ProjectVersion

LIVE = "(v.gone_ms IS NULL OR v.gone_ms > :now)"
_SELECT = (
    "SELECT v.*, p.name AS project_name, p.feature "
    "FROM versions v JOIN projects p ON p.id = v.project_id"
)


def _version(row: sqlite3.Row) -> ProjectVersion:
    return ProjectVersion(
        id=row["id"],
        project_id=row["project_id"],
        name=row["name"],
        arn=row["arn"],
        created_ms=row["created_ms"],
        phase=row["phase"],
        outcome=row["outcome"],
        ready_ms=row["ready_ms"],
        finished_ms=row["finished_ms"],
        message=row["message"],
        training_end_ms=row["training_end_ms"],
        request=json.loads(row["request"]),
        results=_object(row["results"]),
        min_units=row["min_units"],
        max_units=row["max_units"],
        deleting_ms=row["deleting_ms"],
        gone_ms=row["gone_ms"],
        project_name=row["project_name"],
        feature=row["feature"],
    )


def _object(text: str) -> JsonObject:
    """Stored results as they can be read: JSON that is not an object, or not JSON at all (a
    damaged row), reads as none, so that the version is still described."""
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _one(
    conn: Conn, query: str, params: Sequence[object] | dict[str, object]
) -> ProjectVersion | None:
    row = conn.execute(query, params).fetchone()
    return None if row is None else _version(row)


def purge_gone(tx: Tx, now_ms: int) -> list[int]:
    """Remove finished deletions; return their ids (their model files can go too)."""
    ids = [row[0] for row in tx.execute("SELECT id FROM versions WHERE gone_ms <= ?", (now_ms,))]
    tx.execute(
        "DELETE FROM tags WHERE arn IN (SELECT arn FROM versions WHERE gone_ms <= ?)", (now_ms,)
    )
    tx.execute("DELETE FROM versions WHERE gone_ms <= ?", (now_ms,))
    return ids


def insert(
    tx: Tx,
    *,
    project_id: int,
    name: str,
    arn: str,
    created_ms: int,
    ready_ms: int,
    request: JsonObject,
    phase: VersionPhase = "TRAINING",
) -> int:
    return row_id(
        tx.execute(
            "INSERT INTO versions (project_id, name, arn, created_ms, phase, ready_ms, request) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (project_id, name, arn, created_ms, phase, ready_ms, json.dumps(request)),
        )
    )


def by_arn(conn: Conn, account: str, region: str, arn: str, now_ms: int) -> ProjectVersion | None:
    return _one(
        conn,
        f"{_SELECT} WHERE v.arn = :arn AND p.account = :account AND p.region = :region AND {LIVE}",
        {"arn": arn, "account": account, "region": region, "now": now_ms},
    )


def by_id(conn: Conn, version_id: int) -> ProjectVersion | None:
    return _one(conn, f"{_SELECT} WHERE v.id = ?", (version_id,))


def name_taken(conn: Conn, project_id: int, name: str) -> bool:
    """Whether a model of the project, in any status, has this name."""
    query = "SELECT 1 FROM versions WHERE project_id = ? AND name = ?"
    return conn.execute(query, (project_id, name)).fetchone() is not None


def page(
    conn: Conn,
    project_id: int,
    now_ms: int,
    *,
    names: Sequence[str] | None,
    before_ms: int | None,
    limit: int,
) -> list[ProjectVersion]:
    """Newest first, created before `before_ms`."""
    params: dict[str, object] = {
        "project": project_id,
        "now": now_ms,
        "limit": limit,
        "before": 2**62 if before_ms is None else before_ms,
    }
    where = [f"v.project_id = :project AND {LIVE} AND v.created_ms < :before"]
    if names is not None:
        where.append(f"v.name IN ({placeholders('n', len(names))})")
        params.update({f"n{i}": n for i, n in enumerate(names)})
    rows = conn.execute(
        f"{_SELECT} WHERE {' AND '.join(where)} ORDER BY v.created_ms DESC LIMIT :limit", params
    )
    return [_version(row) for row in rows]


def count_live(conn: Conn, project_id: int, now_ms: int) -> int:
    return scalar(
        conn,
        f"SELECT count(*) FROM versions v WHERE v.project_id = :p AND {LIVE}",
        {"p": project_id, "now": now_ms},
    )


def unfinished(conn: Conn) -> list[ProjectVersion]:
    return [_version(row) for row in conn.execute(f"{_SELECT} WHERE v.outcome IS NULL")]


def finish(
    tx: Tx,
    version_id: int,
    outcome: VersionOutcome,
    finished_ms: int,
    message: str | None,
    results: JsonObject,
    training_end_ms: int | None,
) -> None:
    """`training_end_ms`: when the training ended as clients see it (None: not a training,
    the stored value stays)."""
    tx.execute(
        "UPDATE versions SET outcome = ?, finished_ms = ?, message = ?, results = ?, "
        "training_end_ms = coalesce(?, training_end_ms) WHERE id = ?",
        (outcome, finished_ms, message, json.dumps(results), training_end_ms, version_id),
    )


def mark_deleting(tx: Tx, version_id: int, deleting_ms: int, gone_ms: int) -> None:
    tx.execute(
        "UPDATE versions SET deleting_ms = ?, gone_ms = ? WHERE id = ?",
        (deleting_ms, gone_ms, version_id),
    )


def in_phase(conn: Conn, project_id: int, phase: VersionPhase, now_ms: int) -> int:
    """How many models of the project are still in `phase` (TRAINING, COPYING...) at `now_ms`."""
    return scalar(
        conn,
        f"SELECT count(*) FROM versions v WHERE v.project_id = :p AND {LIVE} "
        "AND v.deleting_ms IS NULL AND v.phase = :phase "
        "AND (v.outcome IS NULL OR v.ready_ms > :now)",
        {"p": project_id, "phase": phase, "now": now_ms},
    )


def change_phase(tx: Tx, version_id: int, phase: VersionPhase, now_ms: int, ready_ms: int) -> None:
    """Start a phase whose work is done at once (starting, stopping); it shows until ready_ms."""
    tx.execute(
        "UPDATE versions SET phase = ?, outcome = 'COMPLETED', finished_ms = ?, "
        "ready_ms = ?, message = NULL WHERE id = ?",
        (phase, now_ms, ready_ms, version_id),
    )


def set_units(tx: Tx, version_id: int, minimum: int, maximum: int | None) -> None:
    tx.execute(
        "UPDATE versions SET min_units = ?, max_units = ? WHERE id = ?",
        (minimum, maximum, version_id),
    )


def fail_phase(tx: Tx, version_id: int, now_ms: int, message: str) -> None:
    """End the current phase as FAILED, keeping what training produced."""
    tx.execute(
        "UPDATE versions SET outcome = 'FAILED', finished_ms = ?, ready_ms = ?, "
        "message = ? WHERE id = ?",
        (now_ms, now_ms, message, version_id),
    )

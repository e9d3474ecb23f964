"""Project policies: one current revision per (project, policy name)."""

from __future__ import annotations

import sqlite3

from fakerek.store.db import Conn, Tx, scalar
from fakerek.store.records import ProjectPolicy


def _policy(row: sqlite3.Row) -> ProjectPolicy:
    return ProjectPolicy(
        project_id=row["project_id"],
        name=row["name"],
        revision=row["revision"],
        document=row["document"],
        created_ms=row["created_ms"],
        updated_ms=row["updated_ms"],
    )


def get(conn: Conn, project_id: int, name: str) -> ProjectPolicy | None:
    row = conn.execute(
        "SELECT * FROM project_policies WHERE project_id = ? AND name = ?", (project_id, name)
    ).fetchone()
    return None if row is None else _policy(row)


def count(conn: Conn, project_id: int) -> int:
    return scalar(conn, "SELECT count(*) FROM project_policies WHERE project_id = ?", (project_id,))


def insert(tx: Tx, project_id: int, name: str, revision: str, document: str, now_ms: int) -> None:
    tx.execute(
        "INSERT INTO project_policies VALUES (?, ?, ?, ?, ?, ?)",
        (project_id, name, revision, document, now_ms, now_ms),
    )


def replace(tx: Tx, project_id: int, name: str, revision: str, document: str, now_ms: int) -> None:
    tx.execute(
        "UPDATE project_policies SET revision = ?, document = ?, updated_ms = ?"
        " WHERE project_id = ? AND name = ?",
        (revision, document, now_ms, project_id, name),
    )


def delete(tx: Tx, project_id: int, name: str) -> None:
    tx.execute("DELETE FROM project_policies WHERE project_id = ? AND name = ?", (project_id, name))


def page(conn: Conn, project_id: int, after_ms: int | None, limit: int) -> list[ProjectPolicy]:
    rows = conn.execute(
        "SELECT * FROM project_policies WHERE project_id = ? AND created_ms > ?"
        " ORDER BY created_ms LIMIT ?",
        (project_id, -1 if after_ms is None else after_ms, limit),
    )
    return [_policy(row) for row in rows]

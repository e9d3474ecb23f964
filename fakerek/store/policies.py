"""Project policy rows: one current revision per (project, policy name)."""

from __future__ import annotations

import sqlite3


def get(conn: sqlite3.Connection, project_id: int, name: str) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT * FROM project_policies WHERE project_id = ? AND name = ?", (project_id, name)
    ).fetchone()


def count(conn: sqlite3.Connection, project_id: int) -> int:
    return conn.execute(
        "SELECT count(*) FROM project_policies WHERE project_id = ?", (project_id,)
    ).fetchone()[0]


def insert(
    tx: sqlite3.Connection, project_id: int, name: str, revision: str, document: str, now_ms: int
) -> None:
    tx.execute(
        "INSERT INTO project_policies VALUES (?, ?, ?, ?, ?, ?)",
        (project_id, name, revision, document, now_ms, now_ms),
    )


def replace(
    tx: sqlite3.Connection, project_id: int, name: str, revision: str, document: str, now_ms: int
) -> None:
    tx.execute(
        "UPDATE project_policies SET revision = ?, document = ?, updated_ms = ?"
        " WHERE project_id = ? AND name = ?",
        (revision, document, now_ms, project_id, name),
    )


def delete(tx: sqlite3.Connection, project_id: int, name: str) -> None:
    tx.execute("DELETE FROM project_policies WHERE project_id = ? AND name = ?", (project_id, name))


def page(
    conn: sqlite3.Connection, project_id: int, after_ms: int | None, limit: int
) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT * FROM project_policies WHERE project_id = ? AND created_ms > ?"
        " ORDER BY created_ms LIMIT ?",
        (project_id, -1 if after_ms is None else after_ms, limit),
    ).fetchall()

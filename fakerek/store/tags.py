"""Tags of any resource, keyed by its ARN."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping


def of(conn: sqlite3.Connection, arn: str) -> dict[str, str]:
    rows = conn.execute("SELECT key, value FROM tags WHERE arn = ? ORDER BY key", (arn,))
    return {key: value for key, value in rows}


def keys_of(conn: sqlite3.Connection, arn: str) -> set[str]:
    return {row[0] for row in conn.execute("SELECT key FROM tags WHERE arn = ?", (arn,))}


def put(tx: sqlite3.Connection, arn: str, tags: Mapping[str, str]) -> None:
    tx.executemany(
        "INSERT INTO tags (arn, key, value) VALUES (?, ?, ?)"
        " ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value",
        [(arn, k, v) for k, v in tags.items()],
    )


def remove(tx: sqlite3.Connection, arn: str, keys: Iterable[str]) -> None:
    tx.executemany("DELETE FROM tags WHERE arn = ? AND key = ?", [(arn, k) for k in keys])

"""Tags of any resource, keyed by its ARN."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from fakerek.store.db import Conn, Tx


def of(conn: Conn, arn: str) -> dict[str, str]:
    rows = conn.execute("SELECT key, value FROM tags WHERE arn = ? ORDER BY key", (arn,))
    return {key: value for key, value in rows}


def keys_of(conn: Conn, arn: str) -> set[str]:
    return {row[0] for row in conn.execute("SELECT key FROM tags WHERE arn = ?", (arn,))}


def put(tx: Tx, arn: str, tags: Mapping[str, str]) -> None:
    tx.executemany(
        "INSERT INTO tags (arn, key, value) VALUES (?, ?, ?)"
        " ON CONFLICT (arn, key) DO UPDATE SET value = excluded.value",
        [(arn, k, v) for k, v in tags.items()],
    )


def remove(tx: Tx, arn: str, keys: Iterable[str]) -> None:
    tx.executemany("DELETE FROM tags WHERE arn = ? AND key = ?", [(arn, k) for k in keys])

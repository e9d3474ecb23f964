"""Project rows. A project whose `gone_ms` has passed no longer exists for any query."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from fakerek.store.db import placeholders, row_id

LIVE = "(gone_ms IS NULL OR gone_ms > :now)"


def purge_gone(tx: sqlite3.Connection, now_ms: int) -> None:
    """Remove the rows (and tags) of projects whose deletion has finished."""
    gone = "SELECT arn FROM projects WHERE gone_ms <= ?"
    tx.execute(f"DELETE FROM tags WHERE arn IN ({gone})", (now_ms,))
    tx.execute("DELETE FROM projects WHERE gone_ms <= ?", (now_ms,))


def insert(
    tx: sqlite3.Connection,
    *,
    account: str,
    region: str,
    name: str,
    arn: str,
    created_ms: int,
    feature: str,
    auto_update: str | None,
) -> int:
    cur = tx.execute(
        "INSERT INTO projects (account, region, name, arn, created_ms, feature, auto_update)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (account, region, name, arn, created_ms, feature, auto_update),
    )
    return row_id(cur)


def by_arn(
    conn: sqlite3.Connection, account: str, region: str, arn: str, now_ms: int
) -> sqlite3.Row | None:
    return conn.execute(
        f"SELECT * FROM projects WHERE arn = :arn AND account = :account AND region = :region"
        f" AND {LIVE}",
        {"arn": arn, "account": account, "region": region, "now": now_ms},
    ).fetchone()


def by_name(
    conn: sqlite3.Connection, account: str, region: str, name: str, now_ms: int
) -> sqlite3.Row | None:
    return conn.execute(
        f"SELECT * FROM projects WHERE account = :account AND region = :region AND name = :name"
        f" AND {LIVE}",
        {"account": account, "region": region, "name": name, "now": now_ms},
    ).fetchone()


def count(conn: sqlite3.Connection, account: str, region: str, now_ms: int) -> int:
    return conn.execute(
        f"SELECT count(*) FROM projects WHERE account = :account AND region = :region AND {LIVE}",
        {"account": account, "region": region, "now": now_ms},
    ).fetchone()[0]


def page(
    conn: sqlite3.Connection,
    account: str,
    region: str,
    now_ms: int,
    *,
    names: Sequence[str] | None,
    features: Sequence[str],
    after_ms: int | None,
    limit: int,
) -> list[sqlite3.Row]:
    """Up to `limit` projects in creation order, after the creation time `after_ms`."""
    params: dict = {
        "account": account,
        "region": region,
        "now": now_ms,
        "after": -1 if after_ms is None else after_ms,
        "limit": limit,
    }
    where = [f"account = :account AND region = :region AND {LIVE} AND created_ms > :after"]
    where.append(f"feature IN ({placeholders('f', len(features))})")
    params.update({f"f{i}": f for i, f in enumerate(features)})
    if names is not None:
        where.append(f"name IN ({placeholders('n', len(names))})")
        params.update({f"n{i}": n for i, n in enumerate(names)})
    return conn.execute(
        f"SELECT * FROM projects WHERE {' AND '.join(where)} ORDER BY created_ms LIMIT :limit",
        params,
    ).fetchall()


def mark_deleting(tx: sqlite3.Connection, project_id: int, deleting_ms: int, gone_ms: int) -> None:
    tx.execute(
        "UPDATE projects SET deleting_ms = ?, gone_ms = ? WHERE id = ?",
        (deleting_ms, gone_ms, project_id),
    )

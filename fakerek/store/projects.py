"""Projects. A project whose `gone_ms` has passed no longer exists for any query."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from fakerek.store.db import Conn, Tx, placeholders, row_id, scalar
from fakerek.store.records import Project

LIVE = "(gone_ms IS NULL OR gone_ms > :now)"


def _project(row: sqlite3.Row) -> Project:
    return Project(
        id=row["id"],
        account=row["account"],
        region=row["region"],
        name=row["name"],
        arn=row["arn"],
        created_ms=row["created_ms"],
        feature=row["feature"],
        auto_update=row["auto_update"],
        deleting_ms=row["deleting_ms"],
        gone_ms=row["gone_ms"],
    )


def purge_gone(tx: Tx, now_ms: int) -> None:
    """Remove the rows (and tags) of projects whose deletion has finished."""
    gone = "SELECT arn FROM projects WHERE gone_ms <= ?"
    tx.execute(f"DELETE FROM tags WHERE arn IN ({gone})", (now_ms,))
    tx.execute("DELETE FROM projects WHERE gone_ms <= ?", (now_ms,))


def insert(
    tx: Tx,
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


def by_arn(conn: Conn, account: str, region: str, arn: str, now_ms: int) -> Project | None:
    row = conn.execute(
        f"SELECT * FROM projects WHERE arn = :arn AND account = :account AND region = :region"
        f" AND {LIVE}",
        {"arn": arn, "account": account, "region": region, "now": now_ms},
    ).fetchone()
    return None if row is None else _project(row)


def by_name(conn: Conn, account: str, region: str, name: str, now_ms: int) -> Project | None:
    row = conn.execute(
        f"SELECT * FROM projects WHERE account = :account AND region = :region AND name = :name"
        f" AND {LIVE}",
        {"account": account, "region": region, "name": name, "now": now_ms},
    ).fetchone()
    return None if row is None else _project(row)


def count(conn: Conn, account: str, region: str, now_ms: int) -> int:
    return scalar(
        conn,
        f"SELECT count(*) FROM projects WHERE account = :account AND region = :region AND {LIVE}",
        {"account": account, "region": region, "now": now_ms},
    )


def page(
    conn: Conn,
    account: str,
    region: str,
    now_ms: int,
    *,
    names: Sequence[str] | None,
    features: Sequence[str],
    after_ms: int | None,
    limit: int,
) -> list[Project]:
    """Up to `limit` projects in creation order, after the creation time `after_ms`."""
    params: dict[str, object] = {
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
    rows = conn.execute(
        f"SELECT * FROM projects WHERE {' AND '.join(where)} ORDER BY created_ms LIMIT :limit",
        params,
    )
    return [_project(row) for row in rows]


def mark_deleting(tx: Tx, project_id: int, deleting_ms: int, gone_ms: int) -> None:
    tx.execute(
        "UPDATE projects SET deleting_ms = ?, gone_ms = ? WHERE id = ?",
        (deleting_ms, gone_ms, project_id),
    )

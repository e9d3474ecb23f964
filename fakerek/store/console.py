"""Read-only queries the web console needs and the API has no operation for: which accounts and
regions hold resources, how many models each project has, and the keys under an S3 prefix of
the embedded S3 (for "import images from an S3 folder")."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from fakerek.store.db import placeholders
from fakerek.store.projects import LIVE as LIVE_PROJECT
from fakerek.store.versions import LIVE as LIVE_VERSION


def scopes(conn: sqlite3.Connection, now_ms: int) -> list[tuple[str, str]]:
    """(account, region) of every live project, sorted."""
    rows = conn.execute(
        f"SELECT DISTINCT account, region FROM projects WHERE {LIVE_PROJECT} "
        "ORDER BY account, region",
        {"now": now_ms},
    )
    return [(row[0], row[1]) for row in rows]


def version_counts(
    conn: sqlite3.Connection, project_arns: Sequence[str], now_ms: int
) -> dict[str, int]:
    """Live models per project ARN (projects without models are left out)."""
    if not project_arns:
        return {}
    params: dict = {"now": now_ms, **{f"a{i}": arn for i, arn in enumerate(project_arns)}}
    rows = conn.execute(
        "SELECT p.arn, count(*) FROM versions v JOIN projects p ON p.id = v.project_id "
        f"WHERE p.arn IN ({placeholders('a', len(project_arns))}) AND {LIVE_VERSION} "
        "GROUP BY p.arn",
        params,
    )
    return {row[0]: row[1] for row in rows}


def s3_keys_under(conn: sqlite3.Connection, bucket: str, prefix: str, limit: int) -> list[str]:
    """Up to `limit` keys of the embedded S3's `bucket` that start with `prefix`, in key order."""
    rows = conn.execute(
        "SELECT key FROM s3_objects WHERE bucket = ? AND substr(key, 1, ?) = ? "
        "ORDER BY key LIMIT ?",
        (bucket, len(prefix), prefix, limit),
    )
    return [row[0] for row in rows]

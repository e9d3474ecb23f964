"""Read-only queries the web console needs and the API has no operation for: which accounts and
regions hold resources, and how many models each project has."""

from __future__ import annotations

from collections.abc import Sequence

from fakerek.store.db import Conn, placeholders
from fakerek.store.projects import LIVE as LIVE_PROJECT
from fakerek.store.versions import LIVE as LIVE_VERSION


def scopes(conn: Conn, now_ms: int) -> list[tuple[str, str]]:
    """(account, region) of every live project, sorted."""
    rows = conn.execute(
        f"SELECT DISTINCT account, region FROM projects WHERE {LIVE_PROJECT} "
        "ORDER BY account, region",
        {"now": now_ms},
    )
    return [(row[0], row[1]) for row in rows]


def version_counts(conn: Conn, project_arns: Sequence[str], now_ms: int) -> dict[str, int]:
    """Live models per project ARN (projects without models are left out)."""
    if not project_arns:
        return {}
    params: dict[str, object] = {
        "now": now_ms,
        **{f"a{i}": arn for i, arn in enumerate(project_arns)},
    }
    rows = conn.execute(
        "SELECT p.arn, count(*) FROM versions v JOIN projects p ON p.id = v.project_id "
        f"WHERE p.arn IN ({placeholders('a', len(project_arns))}) AND {LIVE_VERSION} "
        "GROUP BY p.arn",
        params,
    )
    return {row[0]: row[1] for row in rows}

"""Dataset rows, their entries (in stored order) and the labels each entry carries."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fakerek.store.db import row_id

LIVE = "(d.gone_ms IS NULL OR d.gone_ms > :now)"
_SELECT = (
    "SELECT d.*, p.account, p.region, p.name AS project_name, p.arn AS project_arn, "
    "p.feature, p.deleting_ms AS project_deleting_ms "
    "FROM datasets d JOIN projects p ON p.id = d.project_id"
)


@dataclass
class EntryRow:
    position: int
    source_ref: str
    entry: str  # the ListDatasetEntries text
    is_labeled: bool
    has_errors: bool
    labels: set[str]
    box_labels: set[str]


def purge_gone(tx: sqlite3.Connection, now_ms: int) -> None:
    gone = "SELECT arn FROM datasets WHERE gone_ms <= ?"
    tx.execute(f"DELETE FROM tags WHERE arn IN ({gone})", (now_ms,))
    tx.execute("DELETE FROM datasets WHERE gone_ms <= ?", (now_ms,))


def insert(
    tx: sqlite3.Connection, *, project_id: int, kind: str, arn: str, created_ms: int, ready_ms: int
) -> int:
    return row_id(
        tx.execute(
            "INSERT INTO datasets (project_id, type, arn, created_ms, phase, ready_ms, "
            "previous_update_ms) VALUES (?, ?, ?, ?, 'CREATE', ?, ?)",
            (project_id, kind, arn, created_ms, ready_ms, created_ms),
        )
    )


def by_arn(
    conn: sqlite3.Connection, account: str, region: str, arn: str, now_ms: int
) -> sqlite3.Row | None:
    return conn.execute(
        f"{_SELECT} WHERE d.arn = :arn AND p.account = :account AND p.region = :region AND {LIVE}",
        {"arn": arn, "account": account, "region": region, "now": now_ms},
    ).fetchone()


def by_type(conn: sqlite3.Connection, project_id: int, kind: str) -> sqlite3.Row | None:
    """The project's TRAIN or TEST dataset in any status (purge finished deletions first)."""
    return conn.execute(
        "SELECT * FROM datasets WHERE project_id = ? AND type = ?", (project_id, kind)
    ).fetchone()


def by_id(conn: sqlite3.Connection, dataset_id: int) -> sqlite3.Row | None:
    return conn.execute(f"{_SELECT} WHERE d.id = ?", (dataset_id,)).fetchone()


def of_projects(
    conn: sqlite3.Connection, project_ids: Sequence[int], now_ms: int
) -> list[sqlite3.Row]:
    """Live datasets of these projects, TRAIN before TEST."""
    marks = ", ".join("?" * len(project_ids))
    return conn.execute(
        f"{_SELECT} WHERE d.project_id IN ({marks}) AND (d.gone_ms IS NULL OR d.gone_ms > ?) "
        "ORDER BY d.project_id, d.type DESC",
        (*project_ids, now_ms),
    ).fetchall()


def unfinished(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return conn.execute(f"{_SELECT} WHERE d.outcome IS NULL").fetchall()


def start_phase(
    tx: sqlite3.Connection, dataset_id: int, phase: str, ready_ms: int, previous_update_ms: int
) -> None:
    tx.execute(
        "UPDATE datasets SET phase = ?, outcome = NULL, ready_ms = ?, finished_ms = NULL, "
        "previous_update_ms = ?, previous_stats = json_array(total, labeled, labels, "
        "errors) WHERE id = ?",
        (phase, ready_ms, previous_update_ms, dataset_id),
    )


def finish(
    tx: sqlite3.Connection,
    dataset_id: int,
    outcome: str,
    finished_ms: int,
    message: str | None = None,
    code: str | None = None,
) -> None:
    """End the running phase; on success the stats are recounted from the entries."""
    tx.execute(
        "UPDATE datasets SET outcome = ?, finished_ms = ?, message = ?, message_code = ? "
        "WHERE id = ?",
        (outcome, finished_ms, message, code, dataset_id),
    )
    if outcome == "COMPLETE":
        tx.execute(
            "UPDATE datasets SET "
            "total = (SELECT count(*) FROM dataset_entries WHERE dataset_id = :id), "
            "labeled = (SELECT coalesce(sum(is_labeled), 0) FROM dataset_entries "
            "           WHERE dataset_id = :id), "
            "errors = (SELECT coalesce(sum(has_errors), 0) FROM dataset_entries "
            "          WHERE dataset_id = :id), "
            "labels = (SELECT count(DISTINCT label) FROM dataset_labels WHERE dataset_id = :id) "
            "WHERE id = :id",
            {"id": dataset_id},
        )


def mark_deleting(tx: sqlite3.Connection, dataset_id: int, deleting_ms: int, gone_ms: int) -> None:
    tx.execute(
        "UPDATE datasets SET deleting_ms = ?, gone_ms = ? WHERE id = ?",
        (deleting_ms, gone_ms, dataset_id),
    )


# -- entries ------------------------------------------------------------------------------------


def add_entries(
    tx: sqlite3.Connection, dataset_id: int, rows: Iterable[EntryRow], fresh: bool = False
) -> None:
    """Insert new entries, or replace in place (same position) those with a known source-ref.

    `fresh`: the dataset had no entries before this import, so no lookup is needed.
    """
    for row in rows:
        old = (
            None
            if fresh
            else tx.execute(
                "SELECT position FROM dataset_entries WHERE dataset_id = ? AND source_ref = ?",
                (dataset_id, row.source_ref),
            ).fetchone()
        )
        position = old[0] if old else row.position
        if old:
            tx.execute(
                "DELETE FROM dataset_labels WHERE dataset_id = ? AND position = ?",
                (dataset_id, position),
            )
        tx.execute(
            "INSERT OR REPLACE INTO dataset_entries VALUES (?, ?, ?, ?, ?, ?)",
            (
                dataset_id,
                position,
                row.source_ref,
                row.entry,
                int(row.is_labeled),
                int(row.has_errors),
            ),
        )
        tx.executemany(
            "INSERT INTO dataset_labels VALUES (?, ?, ?, ?)",
            [(dataset_id, label, position, int(label in row.box_labels)) for label in row.labels],
        )


def next_position(conn: sqlite3.Connection, dataset_id: int) -> int:
    row = conn.execute(
        "SELECT max(position) FROM dataset_entries WHERE dataset_id = ?", (dataset_id,)
    ).fetchone()
    return (row[0] or 0) + 1


def count_entries(conn: sqlite3.Connection, dataset_id: int) -> int:
    return conn.execute(
        "SELECT count(*) FROM dataset_entries WHERE dataset_id = ?", (dataset_id,)
    ).fetchone()[0]


def count_labels(conn: sqlite3.Connection, dataset_id: int) -> int:
    return conn.execute(
        "SELECT count(DISTINCT label) FROM dataset_labels WHERE dataset_id = ?", (dataset_id,)
    ).fetchone()[0]


def image_buckets(conn: sqlite3.Connection, dataset_id: int) -> set[str]:
    """The buckets of the dataset's images (at most two: enough to tell one from several)."""
    rows = conn.execute(
        "SELECT DISTINCT substr(source_ref, 6, instr(substr(source_ref, 6), '/') - 1) "
        "FROM dataset_entries WHERE dataset_id = ? LIMIT 2",
        (dataset_id,),
    )
    return {row[0] for row in rows}


def delete_entries(tx: sqlite3.Connection, dataset_id: int) -> None:
    tx.execute("DELETE FROM dataset_labels WHERE dataset_id = ?", (dataset_id,))
    tx.execute("DELETE FROM dataset_entries WHERE dataset_id = ?", (dataset_id,))


def copy_entries(tx: sqlite3.Connection, source_id: int, target_id: int) -> None:
    tx.execute(
        "INSERT INTO dataset_entries SELECT ?, position, source_ref, entry, is_labeled, "
        "has_errors FROM dataset_entries WHERE dataset_id = ?",
        (target_id, source_id),
    )
    tx.execute(
        "INSERT INTO dataset_labels SELECT ?, label, position, on_box FROM dataset_labels "
        "WHERE dataset_id = ?",
        (target_id, source_id),
    )


def entry_page(
    conn: sqlite3.Connection,
    dataset_id: int,
    after: int | None,
    limit: int,
    *,
    labels: Sequence[str] | None,
    labeled: bool | None,
    source_ref_contains: str | None,
    has_errors: bool,
) -> list[sqlite3.Row]:
    where = ["e.dataset_id = :id", "e.position > :after"]
    params: dict = {"id": dataset_id, "after": -1 if after is None else after, "limit": limit}
    if labels:
        marks = ", ".join(f":l{i}" for i in range(len(labels)))
        params.update({f"l{i}": label for i, label in enumerate(labels)})
        where.append(
            "EXISTS (SELECT 1 FROM dataset_labels l WHERE l.dataset_id = e.dataset_id "
            f"AND l.position = e.position AND l.label IN ({marks}))"
        )
    if labeled is not None:
        where.append("e.is_labeled = :labeled")
        params["labeled"] = int(labeled)
    if source_ref_contains is not None:
        where.append("instr(e.source_ref, :contains) > 0")
        params["contains"] = source_ref_contains
    if has_errors:
        where.append("e.has_errors = 1")
    return conn.execute(
        f"SELECT e.position, e.entry FROM dataset_entries e "
        f"WHERE {' AND '.join(where)} ORDER BY e.position LIMIT :limit",
        params,
    ).fetchall()


def label_page(
    conn: sqlite3.Connection, dataset_id: int, after: str | None, limit: int
) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT label, count(*) AS entries, sum(on_box) AS boxed FROM dataset_labels "
        "WHERE dataset_id = ? AND label > ? GROUP BY label ORDER BY label LIMIT ?",
        (dataset_id, "" if after is None else after, limit),
    ).fetchall()


def all_entries(conn: sqlite3.Connection, dataset_id: int) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT position, source_ref, entry, is_labeled FROM dataset_entries "
        "WHERE dataset_id = ? ORDER BY position",
        (dataset_id,),
    ).fetchall()


def labels_by_position(conn: sqlite3.Connection, dataset_id: int) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for position, label in conn.execute(
        "SELECT position, label FROM dataset_labels WHERE dataset_id = ?", (dataset_id,)
    ):
        out.setdefault(position, set()).add(label)
    return out


def move_entries(
    tx: sqlite3.Connection, source_id: int, target_id: int, positions: Sequence[int]
) -> None:
    """Move entries to the end of another dataset, keeping their relative order."""
    start = next_position(tx, target_id)
    for offset, position in enumerate(sorted(positions)):
        tx.execute(
            "UPDATE dataset_entries SET dataset_id = ?, position = ? "
            "WHERE dataset_id = ? AND position = ?",
            (target_id, start + offset, source_id, position),
        )
        tx.execute(
            "UPDATE dataset_labels SET dataset_id = ?, position = ? "
            "WHERE dataset_id = ? AND position = ?",
            (target_id, start + offset, source_id, position),
        )

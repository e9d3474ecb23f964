"""Datasets, their entries (in stored order) and the labels each entry carries."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fakerek.store.db import Conn, Tx, row_id, scalar
from fakerek.store.records import Dataset, DatasetEntry, DatasetLabel, DatasetStats

LIVE = "(d.gone_ms IS NULL OR d.gone_ms > :now)"
_SELECT = "SELECT d.*, p.feature FROM datasets d JOIN projects p ON p.id = d.project_id"


@dataclass(frozen=True)
class NewEntry:
    """An entry to store: its ListDatasetEntries text and what lookups filter on."""

    position: int
    source_ref: str
    entry: str  # the ListDatasetEntries text
    is_labeled: bool
    has_errors: bool
    labels: set[str]
    box_labels: set[str]


def _dataset(row: sqlite3.Row) -> Dataset:
    return Dataset(
        id=row["id"],
        project_id=row["project_id"],
        kind=row["type"],
        arn=row["arn"],
        created_ms=row["created_ms"],
        phase=row["phase"],
        outcome=row["outcome"],
        ready_ms=row["ready_ms"],
        finished_ms=row["finished_ms"],
        previous_update_ms=row["previous_update_ms"],
        message=row["message"],
        message_code=row["message_code"],
        stats=DatasetStats(row["total"], row["labeled"], row["labels"], row["errors"]),
        previous_stats=DatasetStats(*json.loads(row["previous_stats"])),
        deleting_ms=row["deleting_ms"],
        gone_ms=row["gone_ms"],
        feature=row["feature"],
    )


def purge_gone(tx: Tx, now_ms: int) -> None:
    gone = "SELECT arn FROM datasets WHERE gone_ms <= ?"
    tx.execute(f"DELETE FROM tags WHERE arn IN ({gone})", (now_ms,))
    tx.execute("DELETE FROM datasets WHERE gone_ms <= ?", (now_ms,))


def insert(tx: Tx, *, project_id: int, kind: str, arn: str, created_ms: int, ready_ms: int) -> int:
    return row_id(
        tx.execute(
            "INSERT INTO datasets (project_id, type, arn, created_ms, phase, ready_ms, "
            "previous_update_ms) VALUES (?, ?, ?, ?, 'CREATE', ?, ?)",
            (project_id, kind, arn, created_ms, ready_ms, created_ms),
        )
    )


def by_arn(conn: Conn, account: str, region: str, arn: str, now_ms: int) -> Dataset | None:
    row = conn.execute(
        f"{_SELECT} WHERE d.arn = :arn AND p.account = :account AND p.region = :region AND {LIVE}",
        {"arn": arn, "account": account, "region": region, "now": now_ms},
    ).fetchone()
    return None if row is None else _dataset(row)


def has_type(conn: Conn, project_id: int, kind: str) -> bool:
    """Whether the project has a TRAIN or TEST dataset in any status (purge finished deletions
    first)."""
    found = conn.execute(
        "SELECT 1 FROM datasets WHERE project_id = ? AND type = ?", (project_id, kind)
    ).fetchone()
    return found is not None


def of_projects(conn: Conn, project_ids: Sequence[int], now_ms: int) -> list[Dataset]:
    """Live datasets of these projects, TRAIN before TEST."""
    marks = ", ".join("?" * len(project_ids))
    rows = conn.execute(
        f"{_SELECT} WHERE d.project_id IN ({marks}) AND (d.gone_ms IS NULL OR d.gone_ms > ?) "
        "ORDER BY d.project_id, d.type DESC",
        (*project_ids, now_ms),
    )
    return [_dataset(row) for row in rows]


def unfinished(conn: Conn) -> list[Dataset]:
    return [_dataset(row) for row in conn.execute(f"{_SELECT} WHERE d.outcome IS NULL")]


def start_phase(
    tx: Tx, dataset_id: int, phase: str, ready_ms: int, previous_update_ms: int
) -> None:
    tx.execute(
        "UPDATE datasets SET phase = ?, outcome = NULL, ready_ms = ?, finished_ms = NULL, "
        "previous_update_ms = ?, previous_stats = json_array(total, labeled, labels, "
        "errors) WHERE id = ?",
        (phase, ready_ms, previous_update_ms, dataset_id),
    )


def finish(
    tx: Tx,
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


def mark_deleting(tx: Tx, dataset_id: int, deleting_ms: int, gone_ms: int) -> None:
    tx.execute(
        "UPDATE datasets SET deleting_ms = ?, gone_ms = ? WHERE id = ?",
        (deleting_ms, gone_ms, dataset_id),
    )


# -- entries ------------------------------------------------------------------------------------


def add_entries(tx: Tx, dataset_id: int, rows: Iterable[NewEntry], fresh: bool = False) -> None:
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


def next_position(conn: Conn, dataset_id: int) -> int:
    query = "SELECT coalesce(max(position), 0) FROM dataset_entries WHERE dataset_id = ?"
    return scalar(conn, query, (dataset_id,)) + 1


def count_entries(conn: Conn, dataset_id: int) -> int:
    return scalar(conn, "SELECT count(*) FROM dataset_entries WHERE dataset_id = ?", (dataset_id,))


def count_labels(conn: Conn, dataset_id: int) -> int:
    return scalar(
        conn, "SELECT count(DISTINCT label) FROM dataset_labels WHERE dataset_id = ?", (dataset_id,)
    )


def image_buckets(conn: Conn, dataset_id: int) -> set[str]:
    """The buckets of the dataset's images (at most two: enough to tell one from several)."""
    rows = conn.execute(
        "SELECT DISTINCT substr(source_ref, 6, instr(substr(source_ref, 6), '/') - 1) "
        "FROM dataset_entries WHERE dataset_id = ? LIMIT 2",
        (dataset_id,),
    )
    return {row[0] for row in rows}


def delete_entries(tx: Tx, dataset_id: int) -> None:
    tx.execute("DELETE FROM dataset_labels WHERE dataset_id = ?", (dataset_id,))
    tx.execute("DELETE FROM dataset_entries WHERE dataset_id = ?", (dataset_id,))


def copy_entries(tx: Tx, source_id: int, target_id: int) -> None:
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
    conn: Conn,
    dataset_id: int,
    after: int | None,
    limit: int,
    *,
    labels: Sequence[str] | None,
    labeled: bool | None,
    source_ref_contains: str | None,
    has_errors: bool,
) -> list[DatasetEntry]:
    where = ["e.dataset_id = :id", "e.position > :after"]
    params: dict[str, object] = {
        "id": dataset_id,
        "after": -1 if after is None else after,
        "limit": limit,
    }
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
    rows = conn.execute(
        f"SELECT e.position, e.source_ref, e.entry, e.is_labeled FROM dataset_entries e "
        f"WHERE {' AND '.join(where)} ORDER BY e.position LIMIT :limit",
        params,
    )
    return [_entry(row) for row in rows]


def _entry(row: sqlite3.Row) -> DatasetEntry:
    return DatasetEntry(row["position"], row["source_ref"], row["entry"], bool(row["is_labeled"]))


def label_page(conn: Conn, dataset_id: int, after: str | None, limit: int) -> list[DatasetLabel]:
    rows = conn.execute(
        "SELECT label, count(*) AS entries, sum(on_box) AS boxed FROM dataset_labels "
        "WHERE dataset_id = ? AND label > ? GROUP BY label ORDER BY label LIMIT ?",
        (dataset_id, "" if after is None else after, limit),
    )
    return [DatasetLabel(row["label"], row["entries"], row["boxed"]) for row in rows]


def all_entries(conn: Conn, dataset_id: int) -> list[DatasetEntry]:
    rows = conn.execute(
        "SELECT position, source_ref, entry, is_labeled FROM dataset_entries "
        "WHERE dataset_id = ? ORDER BY position",
        (dataset_id,),
    )
    return [_entry(row) for row in rows]


def labels_by_position(conn: Conn, dataset_id: int) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for position, label in conn.execute(
        "SELECT position, label FROM dataset_labels WHERE dataset_id = ?", (dataset_id,)
    ):
        out.setdefault(position, set()).add(label)
    return out


def move_entries(tx: Tx, source_id: int, target_id: int, positions: Sequence[int]) -> None:
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

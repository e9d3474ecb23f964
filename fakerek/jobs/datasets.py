"""Dataset work in the background: an import from a manifest (CreateDataset), a merge of new
lines (UpdateDatasetEntries), a split into training and test entries (DistributeDatasetEntries),
and the start-up recovery of work a crash interrupted. Each ends its dataset COMPLETE or FAILED.
"""

from __future__ import annotations

import json
import logging

from fakerek.domain import lifecycle
from fakerek.domain.clock import Clock
from fakerek.manifests import importer, split
from fakerek.manifests.codes import message
from fakerek.manifests.lines import Line, render
from fakerek.s3.objects import Objects
from fakerek.store import datasets
from fakerek.store.db import Store

log = logging.getLogger("fakerek.datasets")
BATCH = 2000  # manifest lines stored per transaction


def fail(store: Store, clock: Clock, dataset_ids: list[int], code: str | None) -> None:
    """StatusMessage is the bare message (AWS's example); the code goes to the log."""
    log.info("datasets %s failed: %s", dataset_ids, code or "service error")
    text = message(code) if code else lifecycle.SERVICE_ISSUE
    with store.write() as tx:
        for dataset_id in dataset_ids:
            datasets.finish(
                tx,
                dataset_id,
                "FAILED",
                clock.now_ms(),
                text,
                "CLIENT_ERROR" if code else "SERVICE_ERROR",
            )


def import_manifest(
    store: Store,
    clock: Clock,
    objects: Objects,
    dataset_id: int,
    s3_object: dict[str, str],
    limits: importer.ImportLimits,
) -> None:
    """CreateDataset from a manifest: stream, validate and store its lines in batches."""
    try:
        tally = importer.Tally()
        stream = importer.open_manifest(
            objects, s3_object["Bucket"], s3_object["Name"], s3_object.get("Version"), limits
        )
        lines = importer.validate(
            importer.text_lines(importer.manifest_chunks(stream), tally), tally, limits
        )
        batch: list[datasets.NewEntry] = []
        for position, line in enumerate(lines, 1):
            batch.append(new_entry(line, position))
            if len(batch) >= BATCH:
                with store.write() as tx:
                    datasets.add_entries(tx, dataset_id, batch, fresh=True)
                batch = []
        with store.write() as tx:
            datasets.add_entries(tx, dataset_id, batch, fresh=True)
        tally.check(limits)
        with store.write() as tx:
            if datasets.count_labels(tx, dataset_id) > limits.max_labels:
                raise importer.ImportFailed("ERROR_MANIFEST_TOO_MANY_LABELS")
            importer.check_one_bucket(datasets.image_buckets(tx, dataset_id))
            datasets.finish(
                tx, dataset_id, "COMPLETE", clock.now_ms(), lifecycle.CREATED_FROM_MANIFEST
            )
        log.info(
            "dataset %d imported: %d lines, %d dropped", dataset_id, tally.lines, tally.dropped
        )
    except importer.ImportFailed as failure:
        with store.write() as tx:
            datasets.delete_entries(tx, dataset_id)
        fail(store, clock, [dataset_id], failure.code)
    except Exception:
        log.exception("import into dataset %d failed", dataset_id)
        with store.write() as tx:
            datasets.delete_entries(tx, dataset_id)
        fail(store, clock, [dataset_id], None)


def update(
    store: Store, clock: Clock, dataset_id: int, text: str, limits: importer.ImportLimits
) -> None:
    """UpdateDatasetEntries: validate the lines, then merge them in one transaction."""
    try:
        tally = importer.Tally()
        lines = list(importer.validate(importer.text_lines([text.encode()], tally), tally, limits))
        with store.write() as tx:
            start = datasets.next_position(tx, dataset_id)
            datasets.add_entries(
                tx,
                dataset_id,
                [new_entry(line, start + i) for i, line in enumerate(lines)],
            )
            tally.check(limits, rows=datasets.count_entries(tx, dataset_id))
            if datasets.count_labels(tx, dataset_id) > limits.max_labels:
                raise importer.ImportFailed("ERROR_MANIFEST_TOO_MANY_LABELS")
            importer.check_one_bucket(datasets.image_buckets(tx, dataset_id))
            datasets.finish(tx, dataset_id, "COMPLETE", clock.now_ms())
    except importer.ImportFailed as failure:
        fail(store, clock, [dataset_id], failure.code)  # the merge was rolled back
    except Exception:
        log.exception("update of dataset %d failed", dataset_id)
        fail(store, clock, [dataset_id], None)


def distribute(store: Store, clock: Clock, train_id: int, test_id: int) -> None:
    try:
        with store.write() as tx:
            entries = datasets.all_entries(tx, train_id)
            labels = datasets.labels_by_position(tx, train_id)
            chosen = split.choose(
                [
                    split.Entry(
                        e.position, e.is_labeled, labels.get(e.position, set()), e.source_ref
                    )
                    for e in entries
                ]
            )
            if not chosen:
                raise importer.ImportFailed("ERROR_INSUFFICIENT_IMAGES_PER_LABEL_FOR_DISTRIBUTE")
            datasets.move_entries(tx, train_id, test_id, chosen)
            now = clock.now_ms()
            datasets.finish(tx, train_id, "COMPLETE", now)
            datasets.finish(tx, test_id, "COMPLETE", now)
    except importer.ImportFailed as failure:
        fail(store, clock, [train_id, test_id], failure.code)
    except Exception:
        log.exception("distribution of datasets %d/%d failed", train_id, test_id)
        fail(store, clock, [train_id, test_id], None)


def recover(store: Store, clock: Clock) -> None:
    """At start-up: work that a crash interrupted ends as a service error, never in progress."""
    with store.read() as conn:
        stuck = datasets.unfinished(conn)
    for dataset in stuck:
        if dataset.phase == "CREATE":
            with store.write() as tx:
                datasets.delete_entries(tx, dataset.id)
        fail(store, clock, [dataset.id], None)
        log.warning(
            "dataset %s was interrupted by a restart: marked %s_FAILED", dataset.arn, dataset.phase
        )


def new_entry(line: Line, position: int) -> datasets.NewEntry:
    """A validated line as the dataset stores it, rendered for ListDatasetEntries."""
    shown = render(line, "cl-errors", None)
    shown["cl-metadata"] = {"is_labeled": line.is_labeled}
    return datasets.NewEntry(
        position=position,
        source_ref=line.source_ref or "",
        entry=json.dumps(shown, ensure_ascii=False, separators=(",", ":")),
        is_labeled=line.is_labeled,
        has_errors=line.has_errors,
        labels=line.labels,
        box_labels=line.box_labels,
    )

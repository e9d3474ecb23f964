"""Dataset work in the background: an import from a manifest (CreateDataset), a merge of new
lines (UpdateDatasetEntries), a split into training and test entries (DistributeDatasetEntries),
and the start-up recovery of work a crash interrupted. Each ends its dataset COMPLETE or FAILED.
"""

from __future__ import annotations

import json
import logging
import threading

from fakerek.domain import lifecycle
from fakerek.domain.clock import Clock
from fakerek.jobs import Cancelled, outcomes
from fakerek.manifests import importer, split
from fakerek.manifests.codes import message
from fakerek.manifests.lines import Line, render
from fakerek.s3.objects import Objects
from fakerek.store import datasets
from fakerek.store.db import DatabaseError, Store, StoreClosed, Tx

log = logging.getLogger("fakerek.datasets")
BATCH = 2000  # manifest lines stored per transaction


def _failed(
    clock: Clock, dataset_ids: list[int], code: str | None, drop_entries: bool = False
) -> outcomes.Write:
    """The write that ends datasets' work FAILED: the bare message (AWS's example), the code
    in the log; a failed import keeps no entries."""
    text = message(code) if code else lifecycle.SERVICE_ISSUE

    def write(tx: Tx) -> None:
        for dataset_id in dataset_ids:
            if drop_entries:
                datasets.delete_entries(tx, dataset_id)
            datasets.finish(
                tx,
                dataset_id,
                "FAILED",
                clock.now_ms(),
                text,
                "CLIENT_ERROR" if code else "SERVICE_ERROR",
            )

    return write


def _ended(
    store: Store,
    clock: Clock,
    what: str,
    dataset_ids: list[int],
    error: Exception,
    drop_entries: bool = False,
) -> None:
    """End work that raised `error` FAILED: with its failure code, else as a service error (a
    cancellation, a bug, a write that could not be stored); that write itself is retried until
    it is stored or the server stops."""
    code = None
    if isinstance(error, StoreClosed):
        log.warning("%s was cut by the server's stop: the next start marks it failed", what)
        return
    if isinstance(error, importer.ImportFailed):
        log.info("%s failed: %s", what, error.code)
        code = error.code
    elif isinstance(error, Cancelled):
        log.info("%s is cancelled: the server is stopping", what)
    elif isinstance(error, DatabaseError):
        log.error("%s cannot be stored (%s): marking it failed", what, error)
    else:
        log.error("%s failed", what, exc_info=error)
    outcomes.record(
        store,
        what,
        _failed(clock, dataset_ids, code, drop_entries),
        _failed(clock, dataset_ids, None, drop_entries),
    )


def import_manifest(
    store: Store,
    clock: Clock,
    objects: Objects,
    dataset_id: int,
    s3_object: dict[str, str],
    limits: importer.ImportLimits,
    stopping: threading.Event | None = None,
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
                if stopping is not None and stopping.is_set():
                    raise Cancelled
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
    except Exception as error:
        _ended(store, clock, f"the import into dataset {dataset_id}", [dataset_id], error, True)


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
    except Exception as error:  # the merge was rolled back
        _ended(store, clock, f"the update of dataset {dataset_id}", [dataset_id], error)


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
    except Exception as error:
        what = f"the distribution of datasets {train_id}/{test_id}"
        _ended(store, clock, what, [train_id, test_id], error)


def recover(store: Store, clock: Clock) -> None:
    """At start-up: work that a crash interrupted ends as a service error, never in progress."""
    with store.read() as conn:
        stuck = datasets.unfinished(conn)
    for dataset in stuck:
        with store.write() as tx:
            _failed(clock, [dataset.id], None, drop_entries=dataset.phase == "CREATE")(tx)
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

"""CreateDataset, DescribeDataset, ListDatasetEntries, ListDatasetLabels, UpdateDatasetEntries,
DistributeDatasetEntries, DeleteDataset.

Imports, updates and splits run as background jobs (`jobs`); their status is derived from stored
times (`lifecycle`). In instant timing a call on a dataset first waits for its job to finish (as
the registry declares: `settling`).
"""

from __future__ import annotations

from fakerek.api import pagination
from fakerek.api.errors import (
    InvalidParameter,
    LimitExceeded,
    ResourceAlreadyExists,
    ResourceInUse,
    ResourceNotFound,
    ResourceNotReady,
)
from fakerek.api.wire import JsonObject
from fakerek.domain import lifecycle, quotas
from fakerek.domain.arns import dataset_arn
from fakerek.jobs import datasets as dataset_jobs
from fakerek.manifests import importer
from fakerek.manifests.lines import Limits
from fakerek.operations.context import Ctx
from fakerek.operations.projects import require as require_project
from fakerek.operations.projects import require_custom_labels, require_not_deleting
from fakerek.store import datasets, tags, versions
from fakerek.store.db import Conn
from fakerek.store.records import Dataset, DatasetLabel

# Regions where a dataset holds fewer images (quotas of the guide): TRAIN / TEST.
SMALL_REGIONS = {"ap-south-1": (28_000, 7_000), "eu-west-2": (28_000, 7_000)}


def import_limits(ctx: Ctx, kind: str) -> importer.ImportLimits:
    settings = ctx.settings
    max_rows = settings.manifest_max_rows
    if ctx.region in SMALL_REGIONS:
        max_rows = min(max_rows, SMALL_REGIONS[ctx.region][0 if kind == "TRAIN" else 1])
    return importer.ImportLimits(
        max_bytes=settings.manifest_max_bytes,
        max_rows=max_rows,
        max_labels=settings.manifest_max_labels,
        invalid_row_threshold=settings.invalid_row_threshold,
        line=Limits(
            max_line_chars=settings.manifest_max_line_chars,
            max_boxes_per_image=settings.max_boxes_per_image,
        ),
    )


def require(conn: Conn, ctx: Ctx, arn: str) -> Dataset:
    dataset = datasets.by_arn(conn, ctx.account, ctx.region, arn, ctx.now_ms)
    if dataset is None:
        raise ResourceNotFound.missing("dataset", arn)
    return dataset


# -- operations ---------------------------------------------------------------------------------


def create_dataset(ctx: Ctx, params: JsonObject) -> JsonObject:
    kind = params["DatasetType"]
    source = params.get("DatasetSource") or {}
    manifest, source_arn = source.get("GroundTruthManifest"), source.get("DatasetArn")
    if manifest is not None and source_arn is not None:
        raise InvalidParameter("Specify a value for DatasetArn or GroundTruthManifest, not both.")
    s3_object = (manifest or {}).get("S3Object") or {}
    if manifest is not None and not (s3_object.get("Bucket") and s3_object.get("Name")):
        raise InvalidParameter("GroundTruthManifest needs an S3Object with a Bucket and a Name.")
    new_tags = params.get("Tags", {})
    quotas.tags_at_creation(ctx.settings, new_tags.keys())
    with ctx.store.write() as tx:
        datasets.purge_gone(tx, ctx.now_ms)
        project = require_project(tx, ctx, params["ProjectArn"])
        require_custom_labels(project)
        require_not_deleting(project)
        source = None
        if source_arn is not None:
            source = require(tx, ctx, source_arn)
            source_status = source.status(ctx.now_ms)
            if source_status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_FAILED"):
                raise InvalidParameter(
                    f"The dataset {source_arn} is {source_status}; "
                    "it can be copied once it is complete."
                )
        if datasets.has_type(tx, project.id, kind):
            raise ResourceAlreadyExists(
                f"The project already has a {kind} dataset; delete it before creating another."
            )
        created_ms = ctx.store.next_ms(tx, ctx.now_ms)
        arn = dataset_arn(project.arn, kind, created_ms)
        ready_ms = lifecycle.ends_at(ctx.settings, "dataset", ctx.now_ms)
        dataset_id = datasets.insert(
            tx,
            project_id=project.id,
            kind=kind,
            arn=arn,
            created_ms=created_ms,
            ready_ms=ready_ms,
        )
        tags.put(tx, arn, new_tags)
        if manifest is None and source is None:
            datasets.finish(tx, dataset_id, "COMPLETE", created_ms)
        elif source is not None:
            datasets.copy_entries(tx, source.id, dataset_id)
            datasets.finish(tx, dataset_id, "COMPLETE", created_ms)
    if manifest is not None:
        limits = import_limits(ctx, kind)
        objects, store, clock = ctx.objects, ctx.store, ctx.services.clock
        stopping = ctx.services.jobs.stopping
        ctx.services.jobs.submit(
            [arn],
            ready_ms,
            lambda: dataset_jobs.import_manifest(
                store, clock, objects, dataset_id, s3_object, limits, stopping
            ),
        )
    return {"DatasetArn": arn}


def describe_dataset(ctx: Ctx, params: JsonObject) -> JsonObject:
    with ctx.store.read() as conn:
        dataset = require(conn, ctx, params["DatasetArn"])
    status, message, code = dataset.described_status(ctx.now_ms)
    stats = dataset.visible_stats(ctx.now_ms)
    return {
        "DatasetDescription": {
            "CreationTimestamp": dataset.created_ms / 1000,
            "LastUpdatedTimestamp": dataset.last_update_ms(ctx.now_ms) / 1000,
            "Status": status,
            "StatusMessage": message,
            "StatusMessageCode": code,
            "DatasetStats": {
                "LabeledEntries": stats.labeled,
                "TotalEntries": stats.total,
                "TotalLabels": stats.labels,
                "ErrorEntries": stats.errors,
            },
        }
    }


def _require_listable(ctx: Ctx, dataset: Dataset) -> None:
    require_custom_labels(dataset)
    status = dataset.status(ctx.now_ms)
    if status in ("CREATE_IN_PROGRESS", "CREATE_FAILED"):
        raise ResourceNotReady.in_state("dataset", dataset.arn, status)
    if status in ("UPDATE_IN_PROGRESS", "DELETE_IN_PROGRESS"):
        raise ResourceInUse.in_state("dataset", dataset.arn, status)


def list_dataset_entries(ctx: Ctx, params: JsonObject) -> JsonObject:
    page = pagination.start(ctx.operation, params, int)
    with ctx.store.read() as conn:
        dataset = require(conn, ctx, params["DatasetArn"])
        _require_listable(ctx, dataset)
        entries = datasets.entry_page(
            conn,
            dataset.id,
            page.after,
            page.limit + 1,
            labels=params.get("ContainsLabels"),
            labeled=params.get("Labeled"),
            source_ref_contains=params.get("SourceRefContains"),
            has_errors=params.get("HasErrors", False),
        )
    return {
        "DatasetEntries": [entry.entry for entry in page.rows(entries)],
        **page.token(entries, lambda entry: entry.position),
    }


def list_dataset_labels(ctx: Ctx, params: JsonObject) -> JsonObject:
    page = pagination.start(ctx.operation, params, str)
    with ctx.store.read() as conn:
        dataset = require(conn, ctx, params["DatasetArn"])
        _require_listable(ctx, dataset)
        labels = datasets.label_page(conn, dataset.id, page.after, page.limit + 1)
    return {
        "DatasetLabelDescriptions": [
            {"LabelName": label.name, "LabelStats": _label_stats(label)}
            for label in page.rows(labels)
        ],
        **page.token(labels, lambda label: label.name),
    }


def _label_stats(label: DatasetLabel) -> dict[str, int]:
    """BoundingBoxCount only for a label on boxes: AWS's example for image-level labels shows
    EntryCount alone."""
    stats = {"EntryCount": label.entries}
    if label.boxes:
        stats["BoundingBoxCount"] = label.boxes
    return stats


def update_dataset_entries(ctx: Ctx, params: JsonObject) -> JsonObject:
    blob: bytes = params["Changes"]["GroundTruth"]
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidParameter("Changes.GroundTruth must be UTF-8 JSON Lines.") from None
    if not text.strip():
        raise InvalidParameter("Changes.GroundTruth holds no JSON line.")
    with ctx.store.write() as tx:
        dataset = require(tx, ctx, params["DatasetArn"])
        require_custom_labels(dataset)
        status = dataset.status(ctx.now_ms)
        if status.endswith("_IN_PROGRESS"):
            raise ResourceInUse.in_state("dataset", dataset.arn, status)
        if status == "CREATE_FAILED":
            raise InvalidParameter(
                f"The dataset {dataset.arn} is CREATE_FAILED; delete it and create it again."
            )
        max_rows = import_limits(ctx, dataset.kind).max_rows
        if dataset.stats.total >= max_rows:
            raise LimitExceeded(f"The dataset already has the maximum of {max_rows} entries.")
        ready_ms = lifecycle.ends_at(ctx.settings, "dataset", ctx.now_ms)
        datasets.start_phase(
            tx,
            dataset.id,
            "UPDATE",
            ready_ms,
            dataset.last_update_ms(ctx.now_ms),
        )
    limits, store, dataset_id = import_limits(ctx, dataset.kind), ctx.store, dataset.id
    clock = ctx.services.clock
    ctx.services.jobs.submit(
        [dataset.arn], ready_ms, lambda: dataset_jobs.update(store, clock, dataset_id, text, limits)
    )
    return {}


def distribute_dataset_entries(ctx: Ctx, params: JsonObject) -> JsonObject:
    arns = [item["Arn"] for item in params["Datasets"]]
    if arns[0] == arns[1]:
        raise InvalidParameter("The two datasets must be different.")
    with ctx.store.write() as tx:
        pair = [require(tx, ctx, arn) for arn in arns]
        for dataset in pair:
            require_custom_labels(dataset)
        if pair[0].project_id != pair[1].project_id:
            raise InvalidParameter("The datasets must belong to the same project.")
        by_type = {dataset.kind: dataset for dataset in pair}
        if set(by_type) != {"TRAIN", "TEST"}:
            raise InvalidParameter("Give the project's TRAIN dataset and its TEST dataset.")
        for dataset in pair:
            status = dataset.status(ctx.now_ms)
            if status.endswith("_IN_PROGRESS") or status == "CREATE_FAILED":
                raise ResourceNotReady.in_state("dataset", dataset.arn, status)
        if datasets.count_entries(tx, by_type["TEST"].id):
            raise InvalidParameter("The test dataset must be empty.")
        ready_ms = lifecycle.ends_at(ctx.settings, "dataset", ctx.now_ms)
        for dataset in pair:
            datasets.start_phase(
                tx, dataset.id, "UPDATE", ready_ms, dataset.last_update_ms(ctx.now_ms)
            )
    store, train_id, test_id = ctx.store, by_type["TRAIN"].id, by_type["TEST"].id
    clock = ctx.services.clock
    ctx.services.jobs.submit(
        arns, ready_ms, lambda: dataset_jobs.distribute(store, clock, train_id, test_id)
    )
    return {}


def delete_dataset(ctx: Ctx, params: JsonObject) -> JsonObject:
    with ctx.store.write() as tx:
        datasets.purge_gone(tx, ctx.now_ms)
        dataset = require(tx, ctx, params["DatasetArn"])
        require_custom_labels(dataset)
        if dataset.deleting_ms is not None:
            return {}
        status = dataset.status(ctx.now_ms)
        if status.endswith("_IN_PROGRESS"):
            raise ResourceInUse.in_state("dataset", dataset.arn, status)
        if versions.in_phase(tx, dataset.project_id, "TRAINING", ctx.now_ms):
            raise ResourceInUse("A model of the project is training from this dataset.")
        datasets.mark_deleting(
            tx, dataset.id, ctx.now_ms, lifecycle.ends_at(ctx.settings, "deleting", ctx.now_ms)
        )
    return {}

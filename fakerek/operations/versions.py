"""CreateProjectVersion, DescribeProjectVersions, DeleteProjectVersion, StartProjectVersion,
StopProjectVersion.

Training runs in the background (`jobs.training`); a version's status is derived from its phase,
outcome and times (`lifecycle`), and in instant timing a call first waits for the running
training or loading (as the registry declares: `settling`).
"""

from __future__ import annotations

import logging

from fakerek.api import pagination
from fakerek.api.errors import (
    InvalidParameter,
    LimitExceeded,
    ResourceInUse,
    ResourceNotFound,
)
from fakerek.api.wire import JsonObject
from fakerek.domain import arns, lifecycle, quotas
from fakerek.domain.lifecycle import DatasetType
from fakerek.jobs import models, training
from fakerek.manifests import artefacts
from fakerek.ml import serving
from fakerek.operations import adapters
from fakerek.operations import datasets as dataset_ops
from fakerek.operations.context import Ctx
from fakerek.operations.projects import require as require_project
from fakerek.operations.projects import require_custom_labels
from fakerek.store import adapters as adapter_rows
from fakerek.store import datasets, tags, versions
from fakerek.store.db import Conn, Tx
from fakerek.store.records import Dataset, ProjectVersion

log = logging.getLogger("fakerek.versions")
DELETABLE = {
    "TRAINING_COMPLETED",
    "TRAINING_FAILED",
    "COPYING_COMPLETED",
    "COPYING_FAILED",
    "STOPPED",
    "FAILED",
    "DEPRECATED",
    "EXPIRED",
}


def require(conn: Conn, ctx: Ctx, arn: str) -> ProjectVersion:
    version = versions.by_arn(conn, ctx.account, ctx.region, arn, ctx.now_ms)
    if version is None:
        raise ResourceNotFound.missing("model", arn)
    return version


def _check_request(params: JsonObject) -> None:
    """The cross-member rules the model cannot express."""
    if params.get("FeatureConfig"):
        raise InvalidParameter("FeatureConfig applies only to Custom Moderation projects.")
    if not params["OutputConfig"].get("S3Bucket"):
        raise InvalidParameter("OutputConfig needs an S3Bucket.")
    training, testing = params.get("TrainingData"), params.get("TestingData")
    if (training is None) != (testing is None):
        raise InvalidParameter("Give both TrainingData and TestingData, or neither.")
    if training is None or testing is None:
        return
    if len(training.get("Assets", [])) != 1:
        raise InvalidParameter("TrainingData must have exactly one asset.")
    auto, assets = testing.get("AutoCreate", False), testing.get("Assets")
    if auto == bool(assets):
        raise InvalidParameter("TestingData needs either one asset or AutoCreate true.")
    if assets and len(assets) != 1:
        raise InvalidParameter("TestingData must have at most one asset.")
    for asset in [*training["Assets"], *(assets or [])]:
        s3 = (asset.get("GroundTruthManifest") or {}).get("S3Object") or {}
        if not (s3.get("Bucket") and s3.get("Name")):
            raise InvalidParameter(
                "Each asset needs GroundTruthManifest.S3Object with a Bucket and a Name."
            )


def create_project_version(ctx: Ctx, params: JsonObject) -> JsonObject:
    with ctx.store.read() as conn:
        project = require_project(conn, ctx, params["ProjectArn"])
    if project.feature == adapters.CONTENT_MODERATION:
        return adapters.create(ctx, params, purge_deleted)
    _check_request(params)
    new_tags = params.get("Tags", {})
    quotas.tags_at_creation(ctx.settings, new_tags.keys())
    with ctx.store.write() as tx:
        purge_deleted(ctx, tx)
        project = require_project(tx, ctx, params["ProjectArn"])
        require_custom_labels(project)
        if project.deleting_ms is not None:
            raise ResourceInUse.being_deleted("project", project.arn)
        if versions.name_taken(tx, project.id, params["VersionName"]):
            raise ResourceInUse(f"The project already has a model named {params['VersionName']}.")
        project_datasets = {d.kind: d for d in datasets.of_projects(tx, [project.id], ctx.now_ms)}
        request: JsonObject = {
            k: params[k]
            for k in (
                "OutputConfig",
                "TrainingData",
                "TestingData",
                "KmsKeyId",
                "VersionDescription",
            )
            if k in params
        }
        if "TrainingData" in params:
            if project_datasets:
                raise InvalidParameter(
                    "The project has datasets: train from them, not from "
                    "TrainingData and TestingData."
                )
            request["AutoCreate"] = bool(params["TestingData"].get("AutoCreate"))
        else:
            _require_datasets(ctx, project_datasets)
            request["AutoCreate"] = "TEST" not in project_datasets
        created_ms = ctx.store.next_ms(tx, ctx.now_ms)
        ready_ms = lifecycle.ends_at(ctx.settings, "training", ctx.now_ms)
        arn = arns.version_arn(project.arn, params["VersionName"], created_ms)
        version_id = versions.insert(
            tx,
            project_id=project.id,
            name=params["VersionName"],
            arn=arn,
            created_ms=created_ms,
            ready_ms=ready_ms,
            request=request,
        )
        tags.put(tx, arn, new_tags)
    settings = ctx.settings
    options = training.Options(
        denied=settings.denied_buckets,
        limits=dataset_ops.import_limits(ctx, "TRAIN"),
        fault=ctx.services.faults.take_training(),
        ml=training.MlOptions.of(settings),
    )
    store, clock, objects = ctx.store, ctx.services.clock, ctx.objects
    stopping = ctx.services.jobs.stopping
    ctx.services.jobs.submit(
        [arn],
        ready_ms,
        lambda: training.run(store, clock, objects, version_id, options, stopping),
    )
    return {"ProjectVersionArn": arn}


def _require_datasets(ctx: Ctx, found: dict[DatasetType, Dataset]) -> None:
    if "TRAIN" not in found:
        raise InvalidParameter("The project has no training dataset: create one before training.")
    for dataset in found.values():
        status = dataset.status(ctx.now_ms)
        if status.endswith("_IN_PROGRESS"):
            raise ResourceInUse.in_state("dataset", dataset.arn, status)
        if status == "CREATE_FAILED":
            raise InvalidParameter(f"The dataset {dataset.arn} is CREATE_FAILED.")


def describe(version: ProjectVersion, now_ms: int) -> JsonObject:
    """ProjectVersionDescription: what has happened so far, as of `now_ms`."""
    status, message = version.described_status(now_ms)
    request = version.request
    trained = version.phase not in ("TRAINING", "COPYING") or version.done(now_ms)
    results = artefacts.recorded(version.results) if trained else {}
    output = {
        "S3Bucket": request["OutputConfig"]["S3Bucket"],
        "S3KeyPrefix": request["OutputConfig"].get("S3KeyPrefix", ""),
    }
    training = {"Input": request.get("TrainingData", {})}
    testing = {"Input": request.get("TestingData", {"AutoCreate": request["AutoCreate"]})}
    if "TrainingValidation" in results and "TestingValidation" in results:
        training["Validation"] = artefacts.asset(results["TrainingValidation"])
        testing["Validation"] = artefacts.asset(results["TestingValidation"])
    if "TrainingOutput" in results and "TestingOutput" in results:
        training["Output"] = artefacts.asset(results["TrainingOutput"])
        testing["Output"] = {
            **artefacts.asset(results["TestingOutput"]),
            "AutoCreate": request["AutoCreate"],
        }
    ended = version.training_end_ms if trained and version.training_end_ms else None
    return {
        "ProjectVersionArn": version.arn,
        "CreationTimestamp": version.created_ms / 1000,
        "Status": status,
        "StatusMessage": message,
        "BillableTrainingTimeInSeconds": results.get("BillableTrainingTimeInSeconds"),
        "TrainingEndTimestamp": ended / 1000 if ended else None,
        "OutputConfig": output,
        "TrainingDataResult": training,
        "TestingDataResult": testing,
        "EvaluationResult": results.get("EvaluationResult"),
        "ManifestSummary": results.get("ManifestSummary"),
        "SourceProjectVersionArn": request.get("SourceProjectVersionArn"),
        "MinInferenceUnits": version.min_units,
        "MaxInferenceUnits": version.max_units,
        "KmsKeyId": request.get("KmsKeyId"),
        "VersionDescription": request.get("VersionDescription"),
        "Feature": version.feature,
    }


def describe_project_versions(ctx: Ctx, params: JsonObject) -> JsonObject:
    page = pagination.start(ctx.operation, params, int)
    with ctx.store.read() as conn:
        project = require_project(conn, ctx, params["ProjectArn"])
        rows = versions.page(
            conn,
            project.id,
            ctx.now_ms,
            names=params.get("VersionNames"),
            before_ms=page.after,
            limit=page.limit + 1,
        )
        found = adapter_rows.of_versions(conn, [r.id for r in page.rows(rows)])
    return {
        "ProjectVersionDescriptions": [
            adapters.describe(describe(r, ctx.now_ms), r, found.get(r.id), ctx.now_ms)
            if r.feature == adapters.CONTENT_MODERATION
            else describe(r, ctx.now_ms)
            for r in page.rows(rows)
        ],
        **page.token(rows, lambda version: version.created_ms),
    }


def delete_project_version(ctx: Ctx, params: JsonObject) -> JsonObject:
    with ctx.store.write() as tx:
        purge_deleted(ctx, tx)
        version = require(tx, ctx, params["ProjectVersionArn"])
        status = version.status(ctx.now_ms)
        if status == "DELETING":
            return {"Status": "DELETING"}
        if status not in DELETABLE:
            raise ResourceInUse.in_state(
                "model",
                version.arn,
                status,
                "it can be deleted once it is neither training, starting, running nor stopping",
            )
        versions.mark_deleting(
            tx, version.id, ctx.now_ms, lifecycle.ends_at(ctx.settings, "deleting", ctx.now_ms)
        )
    return {"Status": "DELETING"}


def purge_deleted(ctx: Ctx, tx: Tx) -> None:
    for version_id in versions.purge_gone(tx, ctx.now_ms):
        ctx.services.models.drop(version_id)
        serving.remove_model(ctx.store.data_dir, version_id)


STARTABLE = {"TRAINING_COMPLETED", "STOPPED", "COPYING_COMPLETED", "FAILED"}


def start_project_version(ctx: Ctx, params: JsonObject) -> JsonObject:
    minimum, maximum = params["MinInferenceUnits"], params.get("MaxInferenceUnits")
    if maximum is not None and maximum < minimum:
        raise InvalidParameter(
            "MaxInferenceUnits must be greater than or equal to MinInferenceUnits."
        )
    with ctx.store.write() as tx:
        version = require(tx, ctx, params["ProjectVersionArn"])
        require_custom_labels(version)
        status = version.status(ctx.now_ms)
        if status not in STARTABLE:
            raise ResourceInUse.in_state(
                "model",
                version.arn,
                status,
                "it can be started when it is " + ", ".join(sorted(STARTABLE)),
            )
        limit = ctx.settings.max_inference_units  # a quota: after existence and state (§1.6)
        if max(minimum, maximum or 0) > limit:
            log.info("inference units above the max_inference_units setting (%d) refused", limit)
            raise LimitExceeded(f"A model can run on at most {limit} inference units.")
        ready_ms = lifecycle.ends_at(ctx.settings, "starting", ctx.now_ms)
        versions.change_phase(tx, version.id, "STARTING", ctx.now_ms, ready_ms)
        versions.set_units(tx, version.id, minimum, maximum)
    ctx.services.capacity.start(version.arn, minimum, maximum)
    services = ctx.services
    services.jobs.submit(  # a model that cannot be loaded fails its start
        [version.arn],
        ready_ms,
        lambda: models.load(
            services.store, services.clock, services.models, services.capacity, version
        ),
    )
    return {"Status": "STARTING"}


def stop_project_version(ctx: Ctx, params: JsonObject) -> JsonObject:
    with ctx.store.write() as tx:
        version = require(tx, ctx, params["ProjectVersionArn"])
        require_custom_labels(version)
        status = version.status(ctx.now_ms)
        if status not in ("RUNNING", "STARTING"):
            raise ResourceInUse.in_state(
                "model", version.arn, status, "only a running or starting model can be stopped"
            )
        versions.change_phase(
            tx,
            version.id,
            "STOPPING",
            ctx.now_ms,
            lifecycle.ends_at(ctx.settings, "stopping", ctx.now_ms),
        )
    ctx.services.models.drop(version.id)
    ctx.services.capacity.stop(version.arn)
    return {"Status": "STOPPING"}

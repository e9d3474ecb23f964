"""Adapters: the versions of CONTENT_MODERATION projects (Custom Moderation, moderation.md).

CreateProjectVersion trains one from manifests (adapters have no datasets); DescribeProjectVersions
describes one with its feature's members; the base moderation model is released through the
control API (`release_base_model`), which deprecates the adapters trained on an older one and,
for projects with AutoUpdate ENABLED, retrains them on the new one; their grace period ends on
the clock, or at once (`expire_adapters`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import NamedTuple

from fakerek import config
from fakerek.api.errors import InvalidParameter, ResourceInUse
from fakerek.api.sigv4 import Scope
from fakerek.api.wire import JsonObject
from fakerek.domain import arns, lifecycle, moderation, quotas, taxonomy
from fakerek.domain.lifecycle import VersionStatusReport
from fakerek.jobs import adapters as adapter_jobs
from fakerek.jobs import training
from fakerek.operations import context
from fakerek.operations import datasets as dataset_ops
from fakerek.operations.context import Ctx
from fakerek.operations.projects import require as require_project
from fakerek.operations.services import Services
from fakerek.store import adapters, projects, tags, versions
from fakerek.store.db import Conn, Tx
from fakerek.store.records import Project, ProjectVersion

Purge = Callable[[Ctx, Tx], None]  # removes the versions whose deletion ended

CONTENT_MODERATION = "CONTENT_MODERATION"
VALIDATION = ("ManifestSummary",)  # what a failed adapter's description still shows
AUTO_SUFFIX = "-auto-"  # an AutoUpdate retraining is named <adapter>-auto-<n>
MAX_VERSION_NAME = 255
_RELEASE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,63}")


def base_model(conn: Conn) -> str:
    """The current base moderation model: the last one released, else the shipped one."""
    released = adapters.releases(conn)
    return released[-1].version if released else taxonomy.current().version


def check_request(params: JsonObject) -> None:
    """The members an adapter's CreateProjectVersion needs, and the ones it cannot take."""
    if not params["OutputConfig"].get("S3Bucket"):
        raise InvalidParameter("OutputConfig needs an S3Bucket.")
    training_data, testing = params.get("TrainingData"), params.get("TestingData")
    if training_data is None:
        raise InvalidParameter(
            "An adapter is trained from a manifest: TrainingData must name one (adapters have "
            "no datasets)."
        )
    if len(training_data.get("Assets", [])) != 1:
        raise InvalidParameter("TrainingData must have exactly one asset.")
    assets = (testing or {}).get("Assets")
    if testing is not None and bool(testing.get("AutoCreate")) == bool(assets):
        raise InvalidParameter("TestingData needs either one asset or AutoCreate true.")
    if assets and len(assets) != 1:
        raise InvalidParameter("TestingData must have at most one asset.")
    for asset in [*training_data["Assets"], *(assets or [])]:
        s3 = (asset.get("GroundTruthManifest") or {}).get("S3Object") or {}
        if not (s3.get("Bucket") and s3.get("Name")):
            raise InvalidParameter(
                "Each asset needs GroundTruthManifest.S3Object with a Bucket and a Name."
            )
    feature = params.get("FeatureConfig")
    if feature is not None and "ContentModeration" not in feature:
        raise InvalidParameter(
            "FeatureConfig of a CONTENT_MODERATION project takes ContentModeration."
        )


def threshold_of(request: JsonObject) -> float:
    """The confidence the adapter is evaluated at: FeatureConfig's, else MinConfidence's
    default."""
    found = request.get("FeatureConfig", {}).get("ContentModeration", {}).get("ConfidenceThreshold")
    return moderation.DEFAULT_MIN_CONFIDENCE if found is None else float(found)


def create(ctx: Ctx, params: JsonObject, purge: Purge) -> JsonObject:
    """CreateProjectVersion on a CONTENT_MODERATION project (the caller found the project)."""
    check_request(params)
    new_tags = params.get("Tags", {})
    quotas.tags_at_creation(ctx.settings, new_tags.keys())
    request: JsonObject = {
        k: params[k]
        for k in ("OutputConfig", "TrainingData", "KmsKeyId", "VersionDescription", "FeatureConfig")
        if k in params
    }
    request["TestingData"] = params.get("TestingData") or {"AutoCreate": True}
    request["AutoCreate"] = bool(request["TestingData"].get("AutoCreate"))
    with ctx.store.write() as tx:
        purge(ctx, tx)
        project = require_project(tx, ctx, params["ProjectArn"])
        if project.deleting_ms is not None:
            raise ResourceInUse.being_deleted("project", project.arn)
        if versions.name_taken(tx, project.id, params["VersionName"]):
            raise ResourceInUse(
                f"The project already has an adapter named {params['VersionName']}."
            )
        started = _insert(ctx, tx, project, params["VersionName"], request)
        tags.put(tx, started.arn, new_tags)
    _start(ctx, started, request)
    return {"ProjectVersionArn": started.arn}


class Started(NamedTuple):
    """A new adapter, stored, whose training is to start."""

    arn: str
    version_id: int
    base_model: str
    ready_ms: int  # when TRAINING_IN_PROGRESS may end, on the server's clock


def _insert(ctx: Ctx, tx: Tx, project: Project, name: str, request: JsonObject) -> Started:
    created_ms = ctx.store.next_ms(tx, ctx.now_ms)
    ready_ms = lifecycle.ends_at(ctx.settings, "training", ctx.now_ms)
    arn = arns.version_arn(project.arn, name, created_ms)
    version_id = versions.insert(
        tx,
        project_id=project.id,
        name=name,
        arn=arn,
        created_ms=created_ms,
        ready_ms=ready_ms,
        request=request,
    )
    base = base_model(tx)
    adapters.insert(tx, version_id, base)
    return Started(arn, version_id, base, ready_ms)


def _start(ctx: Ctx, started: Started, request: JsonObject) -> None:
    """Train the new adapter in the background."""
    rules = ctx.services.rules

    def answer(load: Callable[[], bytes], s3_key: str) -> dict[str, float]:
        return rules.moderation(load, s3_key)[0]

    options = training.Options(
        denied=ctx.settings.denied_buckets,
        limits=dataset_ops.import_limits(ctx, "TRAIN"),
        fault=ctx.services.faults.take_training(),
        ml=training.MlOptions.of(ctx.settings),
    )
    adapter = adapter_jobs.AdapterOptions(answer, started.base_model, threshold_of(request))
    trainer = adapter_jobs.trainer(adapter)
    store, clock, objects = ctx.store, ctx.services.clock, ctx.objects
    version_id, stopping = started.version_id, ctx.services.jobs.stopping
    ctx.services.jobs.submit(
        [started.arn],
        started.ready_ms,
        lambda: training.run(
            store, clock, objects, version_id, options, stopping, trainer, VALIDATION
        ),
    )


def status(
    version: ProjectVersion, adapter: adapters.Adapter | None, now_ms: int
) -> VersionStatusReport:
    """Status and StatusMessage of an adapter at `now_ms`."""
    found = version.described_status(now_ms)
    if adapter is None:
        return found
    state = moderation.adapter_status(
        found.status, adapter.deprecated_ms, adapter.expires_ms, now_ms
    )
    own = moderation.adapter_message(state, adapter.base_model, adapter.expires_ms)
    return VersionStatusReport(state, own or found.message)


def describe(
    out: JsonObject, version: ProjectVersion, adapter: adapters.Adapter | None, now_ms: int
) -> JsonObject:
    """An adapter's ProjectVersionDescription from a model's (`out`): no inference units, no
    source version, no validation manifests; its status, base model and FeatureConfig."""
    out["Status"], out["StatusMessage"] = status(version, adapter, now_ms)
    for key in ("MinInferenceUnits", "MaxInferenceUnits", "SourceProjectVersionArn"):
        out.pop(key, None)
    out["FeatureConfig"] = version.request.get("FeatureConfig")
    out["BaseModelVersion"] = adapter.base_model if adapter else None
    for result in ("TrainingDataResult", "TestingDataResult"):
        out[result].pop("Validation", None)
    return out


# -- the control API: base model releases --------------------------------------------------------


def release_base_model(services: Services, version: object, grace_days: object) -> JsonObject:
    """A new base moderation model: adapters on older ones become DEPRECATED now and EXPIRED
    after `grace_days` (on the server's clock); projects with AutoUpdate ENABLED retrain their
    adapters that were usable on the new one. Raises ValueError for a bad request."""
    if not isinstance(version, str) or not _RELEASE.fullmatch(version):
        raise ValueError('release must be a version such as "7.1" (letters, digits, . _ -)')
    settings = services.config.snapshot()
    days = settings.moderation_grace_days if grace_days is None else grace_days
    if (
        isinstance(days, bool)
        or not isinstance(days, int | float)
        or not 0 <= days <= config.MAX_GRACE_DAYS
    ):
        raise ValueError(f"grace_days must be a number of days from 0 to {config.MAX_GRACE_DAYS}")
    now_ms = services.clock.now_ms()
    with services.store.write() as tx:
        if version in {r.version for r in adapters.releases(tx)} or version == base_model(tx):
            raise ValueError(f"base model {version} is already released")
        usable = _usable_adapters(tx, now_ms)
        deprecated = adapters.release(tx, version, now_ms, round(days * 86_400_000))
        names = _arns(tx, deprecated)
    retrained = [
        _retrain(services, adapter)
        for adapter, auto_update in usable
        if adapter.id in deprecated and auto_update == "ENABLED"
    ]
    return {
        "base_model_version": version,
        "deprecated": names,
        "retraining": [arn for arn in retrained if arn is not None],
    }


def expire_adapters(services: Services) -> JsonObject:
    """End every grace period now: deprecated adapters are EXPIRED."""
    with services.store.write() as tx:
        expired = adapters.expire(tx, services.clock.now_ms())
        names = _arns(tx, expired)
    return {"expired": names}


def moderation_state(services: Services) -> JsonObject:
    with services.store.read() as conn:
        released = adapters.releases(conn)
        current = base_model(conn)
    return {
        "base_model_version": current,
        "releases": [
            {
                "version": r.version,
                "released": r.released_ms / 1000,
                "grace_days": r.grace_ms / 86_400_000,
            }
            for r in released
        ],
        "grace_days": services.config.snapshot().moderation_grace_days,
    }


def _arns(conn: Conn, ids: list[int]) -> list[str]:
    return [found.arn for found in (versions.by_id(conn, i) for i in ids) if found is not None]


def _usable_adapters(conn: Conn, now_ms: int) -> list[tuple[ProjectVersion, str | None]]:
    """Every adapter, of any account, that answers DetectModerationLabels now (not deprecated),
    with its project's AutoUpdate."""
    found = []
    trained = adapters.trained(conn)
    infos = adapters.of_versions(conn, [version_id for version_id, _ in trained])
    for version_id, auto_update in trained:
        version = versions.by_id(conn, version_id)
        if (
            version is not None
            and status(version, infos.get(version_id), now_ms).status == "TRAINING_COMPLETED"
        ):
            found.append((version, auto_update))
    return found


def _retrain(services: Services, adapter: ProjectVersion) -> str | None:
    """AutoUpdate: a new adapter of the same project from the same manifests, on the new base
    model, named `<adapter>-auto-<n>` (None when its project is gone meanwhile)."""
    where = arns.of(adapter.arn)
    scope = Scope(where.account, where.region)
    ctx = context.for_scope(services, scope, "CreateProjectVersion", str(uuid.uuid4()))
    request = dict(adapter.request)
    with ctx.store.write() as tx:
        project = projects.by_name(
            tx, scope.account, scope.region, adapter.project_name, ctx.now_ms
        )
        if project is None or project.deleting_ms is not None:
            return None
        stem = adapter.name[: MAX_VERSION_NAME - len(AUTO_SUFFIX) - 4]
        number = 1
        while versions.name_taken(tx, project.id, f"{stem}{AUTO_SUFFIX}{number}"):
            number += 1
        started = _insert(ctx, tx, project, f"{stem}{AUTO_SUFFIX}{number}", request)
        tags.put(tx, started.arn, tags.of(tx, adapter.arn))
    _start(ctx, started, request)
    return started.arn

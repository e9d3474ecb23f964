"""CopyProjectVersion: a trained model copied into another (or the same) project and account.

A cross-account copy is allowed only by an Allow statement of a policy on the source project that
names the caller's account (or `*`) and matches the source version; any matching Deny refuses a
copy, in one account or across two (training-and-inference.md §6.1). The copy gets the model and
the training results (re-written under its own OutputConfig), not the datasets.
"""

from __future__ import annotations

from fakerek.api.errors import (
    AccessDenied,
    InvalidParameter,
    LimitExceeded,
    ResourceInUse,
    ResourceNotFound,
)
from fakerek.api.wire import JsonObject
from fakerek.domain import arns, lifecycle, policy_documents, quotas
from fakerek.jobs import copying
from fakerek.operations.context import Ctx
from fakerek.operations.projects import CUSTOM_LABELS
from fakerek.operations.versions import purge_deleted
from fakerek.store import policies, projects, tags, versions

COPYABLE = {
    "TRAINING_COMPLETED",
    "STARTING",
    "RUNNING",
    "FAILED",
    "STOPPING",
    "STOPPED",
    "COPYING_COMPLETED",
}
MAX_CONCURRENT_COPIES = 5
MAX_POLICIES = 1000  # every policy of the project (the quota keeps them few)


def copy_project_version(ctx: Ctx, params: JsonObject) -> JsonObject:
    source_project_arn = params["SourceProjectArn"]
    source_arn = params["SourceProjectVersionArn"]
    destination_arn = params["DestinationProjectArn"]
    if not params["OutputConfig"].get("S3Bucket"):
        raise InvalidParameter("OutputConfig needs an S3Bucket.")
    quotas.tags_at_creation(ctx.settings, params.get("Tags", {}).keys())
    source_project_parsed = arns.of(source_project_arn)
    source_parsed = arns.of(source_arn)
    if (source_parsed.project, source_parsed.account, source_parsed.region) != (
        source_project_parsed.project,
        source_project_parsed.account,
        source_project_parsed.region,
    ):
        raise InvalidParameter("SourceProjectVersionArn does not belong to SourceProjectArn.")
    if ctx.region != source_parsed.region or arns.of(destination_arn).region != ctx.region:
        raise InvalidParameter("A model can be copied only within one region.")
    same_account = source_parsed.account == ctx.account
    with ctx.store.write() as tx:
        purge_deleted(ctx, tx)
        source_project = projects.by_arn(
            tx, source_parsed.account, ctx.region, source_project_arn, ctx.now_ms
        )
        denied = AccessDenied(
            "The policies of the source project do not allow this account to copy the model."
        )
        if source_project is None:  # another account's projects are not even visible
            raise (
                ResourceNotFound.missing("project", source_project_arn)
                if (same_account)
                else denied
            )
        documents = [
            policy.document for policy in policies.page(tx, source_project.id, None, MAX_POLICIES)
        ]
        if not policy_documents.allows_copy(
            documents, source_project.name, ctx.account, source_arn, same_account
        ):
            raise denied
        source = versions.by_arn(tx, source_parsed.account, ctx.region, source_arn, ctx.now_ms)
        if source is None:
            raise ResourceNotFound.missing("model", source_arn)
        destination = projects.by_arn(tx, ctx.account, ctx.region, destination_arn, ctx.now_ms)
        if destination is None:
            raise ResourceNotFound.missing("project", destination_arn)
        if CUSTOM_LABELS not in (source_project.feature, destination.feature) or (
            source_project.feature != destination.feature
        ):
            raise InvalidParameter("Copying is supported only for Custom Labels models.")
        status = source.status(ctx.now_ms)
        if status not in COPYABLE:
            raise ResourceInUse.in_state("model", source_arn, status, "it cannot be copied")
        if versions.name_taken(tx, destination.id, params["VersionName"]):
            raise ResourceInUse(
                f"The destination project already has a model named {params['VersionName']}."
            )
        if versions.in_phase(tx, destination.id, "COPYING", ctx.now_ms) >= (MAX_CONCURRENT_COPIES):
            raise LimitExceeded(
                f"At most {MAX_CONCURRENT_COPIES} copies may run into one project at once."
            )
        created_ms = ctx.store.next_ms(tx, ctx.now_ms)
        ready_ms = lifecycle.ends_at(ctx.settings, "copying", ctx.now_ms)
        arn = arns.version_arn(destination.arn, params["VersionName"], created_ms)
        source_request = source.request
        request = {
            "OutputConfig": params["OutputConfig"],
            "SourceProjectVersionArn": source_arn,
            "AutoCreate": source_request["AutoCreate"],
        }
        # the copy is the source's model: it keeps its description (CopyProjectVersion has no
        # member to give another, and no operation changes one)
        for key in ("TrainingData", "TestingData", "VersionDescription"):
            if key in source_request:
                request[key] = source_request[key]
        if "KmsKeyId" in params:
            request["KmsKeyId"] = params["KmsKeyId"]
        copy_id = versions.insert(
            tx,
            project_id=destination.id,
            name=params["VersionName"],
            arn=arn,
            created_ms=created_ms,
            ready_ms=ready_ms,
            request=request,
            phase="COPYING",
        )
        tags.put(tx, arn, params.get("Tags", {}))
    # the service reads the source's results as their account, writes the copy's as the caller
    sources = ctx.services.objects(ctx.settings, source_parsed.account)
    store, clock, objects, source_id = ctx.store, ctx.services.clock, ctx.objects, source.id
    ctx.services.jobs.submit(
        [arn], ready_ms, lambda: copying.run(store, clock, sources, objects, source_id, copy_id)
    )
    return {"ProjectVersionArn": arn}

"""CreateProject, DescribeProjects, DeleteProject, and the project lookups other operations use."""

from __future__ import annotations

from fakerek.api import pagination
from fakerek.api.errors import (
    InvalidParameter,
    LimitExceeded,
    ResourceInUse,
    ResourceNotFound,
)
from fakerek.api.wire import JsonObject
from fakerek.domain import arns, lifecycle, quotas
from fakerek.operations.context import Ctx
from fakerek.store import datasets, projects, tags, versions
from fakerek.store.db import Conn
from fakerek.store.records import Dataset, Project, ProjectVersion

CUSTOM_LABELS = "CUSTOM_LABELS"


def require(conn: Conn, ctx: Ctx, arn: str) -> Project:
    """The live project named by `arn` in the caller's account and region."""
    project = projects.by_arn(conn, ctx.account, ctx.region, arn, ctx.now_ms)
    if project is None:
        raise ResourceNotFound.missing("project", arn)
    return project


def require_custom_labels(resource: Project | Dataset | ProjectVersion) -> None:
    """Refuse Custom-Labels-only operations on adapter (CONTENT_MODERATION) projects."""
    if resource.feature != CUSTOM_LABELS:
        raise InvalidParameter(
            f"The project {resource.arn} has Feature {resource.feature}; this operation applies "
            "only to Custom Labels projects."
        )


def require_not_deleting(project: Project) -> None:
    if project.deleting_ms is not None:
        raise InvalidParameter.being_deleted("project", project.arn)


def describe(project: Project, dataset_metadata: list[JsonObject]) -> JsonObject:
    return {
        "ProjectArn": project.arn,
        "CreationTimestamp": project.created_ms / 1000,
        "Status": project.status(),
        "Datasets": dataset_metadata,
        "Feature": project.feature,
        "AutoUpdate": project.auto_update,
    }


def create_project(ctx: Ctx, params: JsonObject) -> JsonObject:
    name = params["ProjectName"]
    feature = params.get("Feature", CUSTOM_LABELS)
    auto_update = params.get("AutoUpdate")
    if feature == "CONTENT_MODERATION" and auto_update is None:
        raise InvalidParameter(
            "AutoUpdate is required for projects with Feature CONTENT_MODERATION."
        )
    if feature == CUSTOM_LABELS and auto_update is not None:
        raise InvalidParameter(
            "AutoUpdate applies only to projects with Feature CONTENT_MODERATION (custom adapters)."
        )
    new_tags = params.get("Tags", {})
    quotas.tags_at_creation(ctx.settings, new_tags.keys())
    with ctx.store.write() as tx:
        projects.purge_gone(tx, ctx.now_ms)
        if projects.by_name(tx, ctx.account, ctx.region, name, ctx.now_ms) is not None:
            raise ResourceInUse(f"A project named {name} already exists.")
        limit = ctx.settings.max_projects
        if limit and projects.count(tx, ctx.account, ctx.region, ctx.now_ms) >= limit:
            raise LimitExceeded(
                f"The account already has the maximum of {limit} projects in this region."
            )
        created_ms = ctx.store.next_ms(tx, ctx.now_ms)
        arn = arns.project_arn(ctx.region, ctx.account, name, created_ms)
        projects.insert(
            tx,
            account=ctx.account,
            region=ctx.region,
            name=name,
            arn=arn,
            created_ms=created_ms,
            feature=feature,
            auto_update=auto_update,
        )
        tags.put(tx, arn, new_tags)
    return {"ProjectArn": arn}


def describe_projects(ctx: Ctx, params: JsonObject) -> JsonObject:
    page = pagination.start(ctx.operation, params, int)
    with ctx.store.read() as conn:
        rows = projects.page(
            conn,
            ctx.account,
            ctx.region,
            ctx.now_ms,
            names=params.get("ProjectNames"),
            features=params.get("Features") or [CUSTOM_LABELS],
            after_ms=page.after,
            limit=page.limit + 1,
        )
        children = datasets.of_projects(conn, [r.id for r in page.rows(rows)], ctx.now_ms)
    by_project: dict[int, list[JsonObject]] = {}
    for child in children:
        by_project.setdefault(child.project_id, []).append(dataset_metadata(child, ctx.now_ms))
    return {
        "ProjectDescriptions": [describe(r, by_project.get(r.id, [])) for r in page.rows(rows)],
        **page.token(rows, lambda project: project.created_ms),
    }


def delete_project(ctx: Ctx, params: JsonObject) -> JsonObject:
    with ctx.store.write() as tx:
        projects.purge_gone(tx, ctx.now_ms)
        project = require(tx, ctx, params["ProjectArn"])
        datasets.purge_gone(tx, ctx.now_ms)
        versions.purge_gone(tx, ctx.now_ms)
        if datasets.of_projects(tx, [project.id], ctx.now_ms) or versions.count_live(
            tx, project.id, ctx.now_ms
        ):
            raise ResourceInUse(
                f"The project {project.arn} still has models or datasets; delete them first."
            )
        if project.deleting_ms is None:
            projects.mark_deleting(
                tx, project.id, ctx.now_ms, lifecycle.ends_at(ctx.settings, "deleting", ctx.now_ms)
            )
    return {"Status": "DELETING"}


def dataset_metadata(dataset: Dataset, now_ms: int) -> JsonObject:
    """DatasetMetadata, one item of a project's `Datasets`."""
    status, message, code = dataset.described_status(now_ms)
    return {
        "CreationTimestamp": dataset.created_ms / 1000,
        "DatasetType": dataset.kind,
        "DatasetArn": dataset.arn,
        "Status": status,
        "StatusMessage": message,
        "StatusMessageCode": code,
    }

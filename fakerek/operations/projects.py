"""CreateProject, DescribeProjects, DeleteProject, and the project lookups other operations use."""

from __future__ import annotations

import sqlite3
from typing import Any

from fakerek.api import pagination
from fakerek.api.errors import (
    InvalidParameter,
    LimitExceeded,
    ResourceInUse,
    ResourceNotFound,
)
from fakerek.domain import arns, lifecycle, quotas
from fakerek.operations.context import Ctx
from fakerek.store import datasets, projects, tags, versions

CUSTOM_LABELS = "CUSTOM_LABELS"


def require(conn: sqlite3.Connection, ctx: Ctx, arn: str) -> sqlite3.Row:
    """The live project named by `arn` in the caller's account and region."""
    row = projects.by_arn(conn, ctx.account, ctx.region, arn, ctx.now_ms)
    if row is None:
        raise ResourceNotFound.missing("project", arn)
    return row


def require_custom_labels(row: sqlite3.Row) -> None:
    """Refuse Custom-Labels-only operations on adapter (CONTENT_MODERATION) projects."""
    if row["feature"] != CUSTOM_LABELS:
        raise InvalidParameter(
            f"The project {row['arn']} has Feature {row['feature']}; this operation applies "
            "only to Custom Labels projects."
        )


def require_not_deleting(row: sqlite3.Row) -> None:
    if row["deleting_ms"] is not None:
        raise InvalidParameter.being_deleted("project", row["arn"])


def describe(row: sqlite3.Row, dataset_metadata: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "ProjectArn": row["arn"],
        "CreationTimestamp": row["created_ms"] / 1000,
        "Status": lifecycle.project_status(row),
        "Datasets": dataset_metadata,
        "Feature": row["feature"],
        "AutoUpdate": row["auto_update"],
    }


def create_project(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
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


def describe_projects(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
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
        children = datasets.of_projects(conn, [r["id"] for r in page.rows(rows)], ctx.now_ms)
    by_project: dict[int, list[dict[str, Any]]] = {}
    for child in children:
        by_project.setdefault(child["project_id"], []).append(dataset_metadata(child, ctx.now_ms))
    return {
        "ProjectDescriptions": [describe(r, by_project.get(r["id"], [])) for r in page.rows(rows)],
        **page.token(rows, "created_ms"),
    }


def delete_project(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.write() as tx:
        projects.purge_gone(tx, ctx.now_ms)
        row = require(tx, ctx, params["ProjectArn"])
        datasets.purge_gone(tx, ctx.now_ms)
        versions.purge_gone(tx, ctx.now_ms)
        if datasets.of_projects(tx, [row["id"]], ctx.now_ms) or versions.count_live(
            tx, row["id"], ctx.now_ms
        ):
            raise ResourceInUse(
                f"The project {row['arn']} still has models or datasets; delete them first."
            )
        if row["deleting_ms"] is None:
            projects.mark_deleting(
                tx, row["id"], ctx.now_ms, lifecycle.ends_at(ctx.settings, "deleting", ctx.now_ms)
            )
    return {"Status": "DELETING"}


def dataset_metadata(row: sqlite3.Row, now_ms: int) -> dict[str, Any]:
    """DatasetMetadata, one item of a project's `Datasets`."""
    status, message, code = lifecycle.dataset_status(row, now_ms)
    return {
        "CreationTimestamp": row["created_ms"] / 1000,
        "DatasetType": row["type"],
        "DatasetArn": row["arn"],
        "Status": status,
        "StatusMessage": message,
        "StatusMessageCode": code,
    }

"""TagResource, UntagResource, ListTagsForResource for every taggable Custom Labels resource."""

from __future__ import annotations

from collections.abc import Callable

from fakerek.api.errors import InvalidParameter, ResourceNotFound
from fakerek.api.wire import JsonObject
from fakerek.domain import arns, quotas
from fakerek.operations import datasets as dataset_ops
from fakerek.operations import projects as project_ops
from fakerek.operations import versions as version_ops
from fakerek.operations.context import Ctx
from fakerek.store import tags
from fakerek.store.db import Conn
from fakerek.store.records import Dataset, Project, ProjectVersion

Taggable = Project | Dataset | ProjectVersion

# How to find a live resource of each taggable kind; kinds without an entry have no resources yet.
_FINDERS: dict[str, Callable[[Conn, Ctx, str], Taggable]] = {
    "project": project_ops.require,
    "dataset": dataset_ops.require,
    "version": version_ops.require,
}


def _require_resource(conn: Conn, ctx: Ctx, arn: str) -> Taggable:
    parsed = arns.parse(arn)
    if parsed is None:
        raise InvalidParameter(
            f"{arn} is not the ARN of a Custom Labels project, dataset or model version."
        )
    finder = _FINDERS.get(parsed.kind)
    if finder is None:
        raise ResourceNotFound.missing("resource", arn)
    return finder(conn, ctx, arn)


def _require_mutable(resource: Taggable) -> None:
    if resource.deleting_ms is not None:
        raise InvalidParameter.being_deleted("resource", resource.arn)


def tag_resource(ctx: Ctx, params: JsonObject) -> JsonObject:
    arn, new = params["ResourceArn"], params["Tags"]
    with ctx.store.write() as tx:
        _require_mutable(_require_resource(tx, ctx, arn))
        quotas.tags_after_tagging(ctx.settings, tags.keys_of(tx, arn), new.keys())
        tags.put(tx, arn, new)
    return {}


def untag_resource(ctx: Ctx, params: JsonObject) -> JsonObject:
    arn = params["ResourceArn"]
    with ctx.store.write() as tx:
        _require_mutable(_require_resource(tx, ctx, arn))
        tags.remove(tx, arn, params["TagKeys"])
    return {}


def list_tags_for_resource(ctx: Ctx, params: JsonObject) -> JsonObject:
    arn = params["ResourceArn"]
    with ctx.store.read() as conn:
        _require_resource(conn, ctx, arn)
        return {"Tags": tags.of(conn, arn)}

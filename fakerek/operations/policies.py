"""PutProjectPolicy, ListProjectPolicies, DeleteProjectPolicy."""

from __future__ import annotations

import uuid

from fakerek.api import pagination
from fakerek.api.errors import (
    InvalidPolicyRevisionId,
    ResourceAlreadyExists,
    ResourceNotFound,
    ServiceQuotaExceeded,
)
from fakerek.api.wire import JsonObject
from fakerek.domain import arns, policy_documents
from fakerek.operations.context import Ctx
from fakerek.operations.projects import require, require_custom_labels, require_not_deleting
from fakerek.store import policies


def put_project_policy(ctx: Ctx, params: JsonObject) -> JsonObject:
    project_arn, name = params["ProjectArn"], params["PolicyName"]
    given = params.get("PolicyRevisionId")
    policy_documents.parse(params["PolicyDocument"], arns.of(project_arn).project)
    revision = uuid.uuid4().hex
    with ctx.store.write() as tx:
        project = require(tx, ctx, project_arn)
        require_custom_labels(project)
        require_not_deleting(project)
        current = policies.get(tx, project.id, name)
        if current is None:
            if given is not None:
                raise InvalidPolicyRevisionId(
                    f"The project has no policy named {name}, so it has no revision {given}."
                )
            limit = ctx.settings.max_policies_per_project
            if policies.count(tx, project.id) >= limit:
                raise ServiceQuotaExceeded(f"A project can have at most {limit} policies.")
            policies.insert(
                tx,
                project.id,
                name,
                revision,
                params["PolicyDocument"],
                ctx.store.next_ms(tx, ctx.now_ms),
            )
        else:
            if given is None:
                raise ResourceAlreadyExists(
                    f"The project already has a policy named {name}; pass its current "
                    "PolicyRevisionId to replace it."
                )
            if given.lower() != current.revision:
                raise InvalidPolicyRevisionId(
                    f"{given} is not the current revision of policy {name}."
                )
            policies.replace(tx, project.id, name, revision, params["PolicyDocument"], ctx.now_ms)
    return {"PolicyRevisionId": revision}


def list_project_policies(ctx: Ctx, params: JsonObject) -> JsonObject:
    page = pagination.start(ctx.operation, params, int)
    with ctx.store.read() as conn:
        project = require(conn, ctx, params["ProjectArn"])
        require_custom_labels(project)
        found = policies.page(conn, project.id, page.after, page.limit + 1)
    return {
        "ProjectPolicies": [
            {
                "ProjectArn": project.arn,
                "PolicyName": policy.name,
                "PolicyRevisionId": policy.revision,
                "PolicyDocument": policy.document,
                "CreationTimestamp": policy.created_ms / 1000,
                "LastUpdatedTimestamp": policy.updated_ms / 1000,
            }
            for policy in page.rows(found)
        ],
        **page.token(found, lambda policy: policy.created_ms),
    }


def delete_project_policy(ctx: Ctx, params: JsonObject) -> JsonObject:
    name, given = params["PolicyName"], params.get("PolicyRevisionId")
    with ctx.store.write() as tx:
        project = require(tx, ctx, params["ProjectArn"])
        require_custom_labels(project)
        require_not_deleting(project)
        current = policies.get(tx, project.id, name)
        if current is None:
            raise ResourceNotFound(f"The project has no policy named {name}.")
        if given is not None and given.lower() != current.revision:
            raise InvalidPolicyRevisionId(f"{given} is not the current revision of policy {name}.")
        policies.delete(tx, project.id, name)
    return {}

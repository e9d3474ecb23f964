"""How the console reaches Custom Labels: the API's own operations, for an explicit scope.

Every read and write of the console is `call(scope, "Operation", params)`: the API's own
dispatcher (`invoke`) checks the parameters against botocore's model, settles and runs the
operation exactly as for a signed request, with a `Ctx` for the account and region the page is
about. Injected faults are not taken: they are meant for the API clients under test, not for
the person looking.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

from fakerek.api.errors import ResourceNotFound
from fakerek.api.sigv4 import Scope
from fakerek.api.wire import JsonObject
from fakerek.domain import arns
from fakerek.operations import context
from fakerek.operations.dispatch import invoke
from fakerek.s3.objects import Objects
from fakerek.web import current

_ACCOUNT = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")


def call(scope: Scope, operation: str, params: JsonObject) -> JsonObject:
    """Run `operation` for `scope` with wire-shaped `params` (blobs as base64 text)."""
    ctx = context.for_scope(current(), scope, operation, str(uuid.uuid4()))
    return invoke(ctx, params, take_faults=False)


def objects(scope: Scope) -> Objects:
    """Users' S3 objects as the scope's account reaches them (another account's buckets are
    refused, as S3 refuses them)."""
    services = current()
    return services.objects(services.config.snapshot(), scope.account)


def pages(scope: Scope, operation: str, params: JsonObject) -> Iterator[JsonObject]:
    """Every page of a paginated `operation`, following NextToken (a generator: a caller that
    found what it looked for stops reading)."""
    params = dict(params)
    while True:
        page = call(scope, operation, params)
        yield page
        if not page.get("NextToken"):
            return
        params["NextToken"] = page["NextToken"]


def default_scope() -> Scope:
    settings = current().config.snapshot()
    return Scope(settings.account_id, settings.region)


def scope_named(account: str | None, region: str | None) -> Scope | None:
    """The scope a selector names, or None when it names none or an impossible one."""
    if account and region and _ACCOUNT.fullmatch(account) and _REGION.fullmatch(region):
        return Scope(account, region)
    return None


def scope_of(arn: str) -> Scope:
    """The account and region a Custom Labels ARN lives in (InvalidParameter otherwise)."""
    parsed = arns.of(arn)
    return Scope(parsed.account, parsed.region)


def project_of(arn: str) -> JsonObject:
    """DescribeProjects' description of a project ARN, or of the project a dataset or model ARN
    belongs to; ResourceNotFound when there is none (or, for a project ARN, another one now
    bears its name)."""
    parsed = arns.of(arn)
    found = call(
        scope_of(arn),
        "DescribeProjects",
        {"ProjectNames": [parsed.project], "Features": ["CUSTOM_LABELS", "CONTENT_MODERATION"]},
    )
    descriptions = found["ProjectDescriptions"]
    if not descriptions or (parsed.kind == "project" and descriptions[0]["ProjectArn"] != arn):
        raise ResourceNotFound(f"The project {parsed.project} of {arn} does not exist.")
    description: JsonObject = descriptions[0]
    return description

"""Project policy documents: the rules a document must follow to be attached to a project.

Custom Labels policies grant one thing, `rekognition:CopyProjectVersion` on the project's model
versions, so the grammar is a small subset of IAM's. `allows_copy` evaluates a project's
documents for a CopyProjectVersion: a matching Deny refuses; across accounts an Allow is needed.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

from fakerek.api.errors import MalformedPolicyDocument
from fakerek.api.wire import JsonObject

ACTION = "rekognition:CopyProjectVersion"
REQUIRED = ("Effect", "Principal", "Action", "Resource")
PROHIBITED = ("NotAction", "NotResource", "NotPrincipal")


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    return None


def _bad(message: str) -> MalformedPolicyDocument:
    return MalformedPolicyDocument(f"The policy document is malformed: {message}")


def parse(document: str, project_name: str) -> JsonObject:
    """The document as JSON, or MalformedPolicyDocumentException saying what is wrong."""
    try:
        doc = json.loads(document)
    except ValueError:
        raise _bad("it is not valid JSON.") from None
    if not isinstance(doc, dict):
        raise _bad("it must be a JSON object.")
    statements = doc.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise _bad("it must contain at least one Statement.")
    resource = re.compile(
        r"arn:[a-z0-9-]+:rekognition:[a-z0-9-]*:[0-9]*:project/"
        + re.escape(project_name)
        + r"/version/.+"
    )
    for n, st in enumerate(statements, 1):
        if not isinstance(st, dict):
            raise _bad(f"statement {n} is not a JSON object.")
        prohibited = [f for f in PROHIBITED if f in st]
        if prohibited:
            raise _bad(f"statement {n} uses the prohibited field {prohibited[0]}.")
        missing = [f for f in REQUIRED if f not in st]
        if missing:
            raise _bad(f"statement {n} lacks the required field {missing[0]}.")
        if not isinstance(st["Effect"], str) or st["Effect"].lower() not in ("allow", "deny"):
            raise _bad(f"statement {n} has Effect {st['Effect']!r}; use Allow or Deny.")
        principal = st["Principal"]
        if not (
            principal == "*"
            or (
                isinstance(principal, dict)
                and principal
                and all(_strings(v) for v in principal.values())
            )
        ):
            raise _bad(f"statement {n} has an invalid Principal.")
        actions = _strings(st["Action"])
        if actions is None or any(a.lower() != ACTION.lower() for a in actions):
            raise _bad(f"statement {n}: the only supported Action is {ACTION}.")
        resources = _strings(st["Resource"])
        if resources is None or not all(resource.fullmatch(r) for r in resources):
            raise _bad(
                f"statement {n}: Resource must be model ARNs of project {project_name} "
                f"(arn:aws:rekognition:<region>:<account>:project/{project_name}/version/"
                "<version>/<id>, or .../version/* for all of them)."
            )
    return doc


def _principals(statement: JsonObject) -> list[str]:
    principal = statement["Principal"]
    if principal == "*":
        return ["*"]
    out: list[str] = []
    for value in principal.values():
        out += [value] if isinstance(value, str) else value
    return out


def _names_caller(principal: str, account: str) -> bool:
    return (
        principal == "*" or principal == account or principal.startswith(f"arn:aws:iam::{account}:")
    )


def _listify(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def allows_copy(
    documents: list[str], project_name: str, caller: str, version: str, same_account: bool
) -> bool:
    """Policy evaluation for a copy: a matching Deny refuses; across accounts an Allow is needed."""
    allow = False
    for document in documents:
        parsed = parse(document, project_name)
        statements = parsed["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            if not any(_names_caller(p, caller) for p in _principals(statement)):
                continue
            if not any(fnmatch.fnmatchcase(version, r) for r in _listify(statement["Resource"])):
                continue
            if statement["Effect"].lower() == "deny":
                return False
            allow = True
    return same_account or allow

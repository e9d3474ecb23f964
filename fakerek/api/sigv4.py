"""Who is calling and where: the access key and region from a SigV4 `Authorization` header (for
S3 also a SigV2 header, or the query of a presigned URL).

Signatures are not verified. An access key id of exactly 12 digits is taken as the caller's
account id (the LocalStack convention), which makes cross-account scenarios testable.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import parse_qsl

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[0-9]{8}/([a-z0-9-]+)/[a-z0-9-]+/aws4_request")
_ACCOUNT = re.compile(r"[0-9]{12}")
_V2_HEADER = re.compile(r"AWS ([^:\s]+):")
_PRESIGNED = ("X-Amz-Credential", "AWSAccessKeyId")  # SigV4, SigV2 presigned URLs


class Scope(NamedTuple):
    """Who calls and where: every resource lives in one (account, region)."""

    account: str
    region: str


def scope(authorization: str | None, default_account: str, default_region: str) -> Scope:
    match = _CREDENTIAL.search(authorization or "")
    if not match:
        return Scope(default_account, default_region)
    access_key, region = match.groups()
    return Scope(account_of(access_key, default_account), region)


def account_of(access_key: str | None, default_account: str) -> str:
    """The account an access key id stands for: itself when it is 12 digits."""
    return access_key if access_key and _ACCOUNT.fullmatch(access_key) else default_account


def access_key(authorization: str | None, query: str = "") -> str | None:
    """The access key id a request is signed with (SigV4 or SigV2, in its `Authorization`
    header or, for a presigned URL, its raw query string), or None when it is not signed."""
    text = authorization or ""
    match = _CREDENTIAL.search(text) or _V2_HEADER.match(text)
    if match:
        return match.group(1)
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in _PRESIGNED and value:
            return value.split("/", 1)[0]
    return None

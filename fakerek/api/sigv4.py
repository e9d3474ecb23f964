"""Who is calling and where: the access key and region from a SigV4 `Authorization` header.

Signatures are not verified. An access key id of exactly 12 digits is taken as the caller's
account id (the LocalStack convention), which makes cross-account scenarios testable.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[0-9]{8}/([a-z0-9-]+)/[a-z0-9-]+/aws4_request")
_ACCOUNT = re.compile(r"[0-9]{12}")


class Scope(NamedTuple):
    """Who calls and where: every resource lives in one (account, region)."""

    account: str
    region: str


def scope(authorization: str | None, default_account: str, default_region: str) -> Scope:
    match = _CREDENTIAL.search(authorization or "")
    if not match:
        return Scope(default_account, default_region)
    access_key, region = match.groups()
    account = access_key if _ACCOUNT.fullmatch(access_key) else default_account
    return Scope(account, region)

"""Opaque NextToken values: the sort key of the last item returned, bound to op and filters.

A token remembers where the previous page ended (not an offset), so pages stay stable while items
are added or removed. Resending it with other filters, to another operation, or after tampering
answers InvalidPaginationTokenException, as AWS does.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from fakerek.api.errors import InvalidPaginationToken
from fakerek.api.service_model import service

_PAGING_MEMBERS = ("NextToken", "MaxResults")


def _filters_digest(params: dict[str, Any]) -> str:
    filters = {k: v for k, v in params.items() if k not in _PAGING_MEMBERS}
    canonical = json.dumps(filters, sort_keys=True, default=str).encode()
    return hashlib.sha256(canonical).hexdigest()[:16]


def encode(operation: str, params: dict[str, Any], key: Any) -> str:
    data = {"o": operation, "k": key, "f": _filters_digest(params)}
    raw = json.dumps(data, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode("ascii")


def decode(operation: str, params: dict[str, Any], key_type: type) -> Any:
    """The sort key after which the requested page starts, or None for the first page."""
    token = params.get("NextToken")
    if not token:  # absent and "" both mean the first page
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        if not isinstance(data, dict):
            raise ValueError
        key = data["k"]
        valid = (
            data["o"] == operation
            and data["f"] == _filters_digest(params)
            and type(key) is key_type
            and not (isinstance(key, int) and not -(2**63) <= key < 2**63)  # SQLite's integers
        )
    except (ValueError, KeyError, TypeError, UnicodeError, RecursionError):
        valid = False
    if not valid:
        raise InvalidPaginationToken("Invalid pagination token.")
    return data["k"]


@dataclass(frozen=True)
class Page:
    """One requested page: fetch `limit + 1` rows after `after`, then answer with these."""

    operation: str
    params: dict[str, Any]
    limit: int
    after: Any

    def rows(self, fetched: list) -> list:
        return fetched[: self.limit]

    def token(self, fetched: list, key: str) -> dict[str, str]:
        """`{"NextToken": …}` when rows remain beyond this page (sort key `key`), else `{}`."""
        if len(fetched) <= self.limit:
            return {}
        return {"NextToken": encode(self.operation, self.params, fetched[self.limit - 1][key])}


def start(operation: str, params: dict[str, Any], key_type: type) -> Page:
    limit = params.get("MaxResults", service().default_page_size(operation))
    return Page(operation, params, limit, decode(operation, params, key_type))

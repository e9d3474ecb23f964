"""Opaque NextToken values: the sort key of the last item returned, bound to op and filters.

A token remembers where the previous page ended (not an offset), so pages stay stable while items
are added or removed. Resending it with other filters, to another operation, or after tampering
answers InvalidPaginationTokenException, as AWS does.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from fakerek.api.errors import InvalidPaginationToken
from fakerek.api.service_model import service
from fakerek.api.wire import JsonObject

Key = TypeVar("Key", int, str)  # the sort key a token carries
Item = TypeVar("Item")

_PAGING_MEMBERS = ("NextToken", "MaxResults")


def _filters_digest(params: JsonObject) -> str:
    filters = {k: v for k, v in params.items() if k not in _PAGING_MEMBERS}
    canonical = json.dumps(filters, sort_keys=True, default=str).encode()
    return hashlib.sha256(canonical).hexdigest()[:16]


def encode(operation: str, params: JsonObject, key: int | str) -> str:
    data = {"o": operation, "k": key, "f": _filters_digest(params)}
    raw = json.dumps(data, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode("ascii")


def decode(operation: str, params: JsonObject, key_type: type[Key]) -> Key | None:
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
    if not valid or not isinstance(key, key_type):
        raise InvalidPaginationToken("Invalid pagination token.")
    return key


@dataclass(frozen=True)
class Page(Generic[Key]):
    """One requested page: fetch `limit + 1` items after `after`, then answer with these."""

    operation: str
    params: JsonObject
    limit: int
    after: Key | None

    def rows(self, fetched: list[Item]) -> list[Item]:
        return fetched[: self.limit]

    def token(self, fetched: list[Item], key: Callable[[Item], Key]) -> dict[str, str]:
        """`{"NextToken": …}` when items remain beyond this page (sorted by `key`), else `{}`."""
        if len(fetched) <= self.limit:
            return {}
        return {"NextToken": encode(self.operation, self.params, key(fetched[self.limit - 1]))}


def start(operation: str, params: JsonObject, key_type: type[Key]) -> Page[Key]:
    limit: int = params.get("MaxResults", service().default_page_size(operation))
    return Page(operation, params, limit, decode(operation, params, key_type))

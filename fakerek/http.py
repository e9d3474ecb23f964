"""The little HTTP plumbing the views share: JSON responses and bounded body reading."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import IO, Any

from flask import Response

LABEL = "fakerek.label"  # the environ key naming a request in the request log (an operation)


def json_response(
    status: int,
    payload: Any,
    content_type: str = "application/json",
    headers: list[tuple[str, str]] | None = None,
) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(body, status=status, headers=headers, content_type=content_type)


def parse_json(
    text: str | bytes,
    parse_constant: Callable[[str], Any],
    object_hook: Callable[[dict[str, Any]], Any] | None = None,
) -> Any:
    """`json.loads`, refusing (ValueError) a string that holds a lone surrogate escape such as
    `"\\udc80"`: Python decodes it to a str that no UTF-8 response, file or database can hold."""
    value = json.loads(text, parse_constant=parse_constant, object_hook=object_hook)
    if not _is_text(value):
        raise ValueError("a string holds a lone surrogate escape (\\ud800-\\udfff)")
    return value


def _is_text(value: Any) -> bool:
    """Every string (member names included) of a decoded JSON value is Unicode text."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and not item.isascii():
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True


class BodyTooLarge(Exception):
    def __init__(self, size: int | None, limit: int):
        shown = f"{size} bytes" if size is not None else "more bytes"
        super().__init__(f"The request body ({shown}) exceeds the limit of {limit} bytes.")


def read_body(stream: IO[bytes], declared: int | None, limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes before reading them when possible."""
    if declared is not None and declared > limit:
        raise BodyTooLarge(declared, limit)
    data = stream.read(declared) if declared else stream.read(limit + 1)
    if len(data) > limit:
        raise BodyTooLarge(None, limit)
    return data

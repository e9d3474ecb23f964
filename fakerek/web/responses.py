"""The little HTTP plumbing the views share: JSON responses and bounded body reading."""

from __future__ import annotations

import json
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

"""The little HTTP plumbing shared by the routes: responses and bounded body reading."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
}


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    label: str = ""  # what the request log calls this request (an operation name or a path)

    @property
    def status_line(self) -> str:
        return f"{self.status} {REASONS.get(self.status, 'Unknown')}"


def json_response(status: int, payload: Any, **kwargs: Any) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(status, body, **kwargs)


class BodyTooLarge(Exception):
    def __init__(self, size: int | None, limit: int):
        shown = f"{size} bytes" if size is not None else "more bytes"
        super().__init__(
            f"The request body ({shown}) exceeds the limit of {limit} bytes "
            "(setting max_body_bytes)."
        )


def read_body(environ: dict[str, Any], limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes before reading them when possible."""
    try:
        declared = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise BodyTooLarge(declared, limit)
    stream = environ["wsgi.input"]
    data = stream.read(declared) if declared else stream.read(limit + 1)
    if len(data) > limit:
        raise BodyTooLarge(None, limit)
    return data

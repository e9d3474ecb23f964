"""The little HTTP plumbing the views share: JSON responses and one reader of size-limited JSON
request bodies (the Rekognition view, the control API and the console's JSON posts)."""

from __future__ import annotations

import http
import json
from collections.abc import Callable
from typing import IO, Any

from flask import Response

from fakerek.api.json_text import parse_json

LABEL = "fakerek.label"  # the environ key naming a request in the request log (an operation)
StartResponse = Callable[..., object]  # WSGI's start_response(status, headers[, exc_info])
_STATUS_LINES = {status.value: f"{status.value} {status.phrase}" for status in http.HTTPStatus}


def status_line(status: int) -> str:
    """WSGI's status string: '200 OK'."""
    return _STATUS_LINES.get(status) or f"{status} Unknown"


def json_bytes(payload: Any) -> bytes:
    """Compact UTF-8 JSON, as AWS sends it."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_response(
    status: int,
    payload: Any,
    content_type: str = "application/json",
    headers: list[tuple[str, str]] | None = None,
) -> Response:
    return Response(json_bytes(payload), status=status, headers=headers, content_type=content_type)


class BodyTooLarge(Exception):
    def __init__(self, size: int | None, limit: int):
        shown = f"{size} bytes" if size is not None else "more bytes"
        super().__init__(f"The request body ({shown}) exceeds the limit of {limit} bytes.")


class NotJson(ValueError):
    """A body that is not one UTF-8 JSON text; the message says why, in AWS's words."""


def read_json(stream: IO[bytes], declared: int | None, limit: int) -> object:
    """The request body's JSON value (`{}` for an empty body): BodyTooLarge past `limit` bytes,
    NotJson for anything but UTF-8 JSON text (NaN and Infinity are not JSON numbers)."""
    raw = read_body(stream, declared, limit)
    if not raw.strip():
        return {}
    try:
        return parse_json(raw.decode("utf-8"), _reject_constant)
    except NotJson:
        raise
    except UnicodeDecodeError:
        raise NotJson("The request body is not valid UTF-8.") from None
    except RecursionError:
        raise NotJson("The request body is nested too deeply.") from None
    except ValueError as error:
        raise NotJson(f"The request body is not valid JSON: {error}.") from None


def _reject_constant(name: str) -> object:
    raise NotJson(f"{name} is not a valid JSON number.")


def read_body(stream: IO[bytes], declared: int | None, limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes before reading them when possible."""
    if declared is not None and declared > limit:
        raise BodyTooLarge(declared, limit)
    data = stream.read(declared) if declared else stream.read(limit + 1)
    if len(data) > limit:
        raise BodyTooLarge(None, limit)
    return data

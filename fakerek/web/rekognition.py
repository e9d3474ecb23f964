"""The Rekognition endpoint: the operation an `X-Amz-Target` names and the caller's scope, handed
to `operations.dispatch.invoke` with a reader of the JSON body; the answer serialised. The
pipeline calls `serve` as plain WSGI, ahead of Flask.

Whatever goes wrong becomes an AWS JSON 1.1 error with `__type`, `Message` and `Code`; an
unexpected exception is logged here and answered as InternalServerError without a stack trace.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, NamedTuple

from flask import Response, request

from fakerek import __version__
from fakerek.api.errors import (
    AwsError,
    InternalServerError,
    SerializationError,
    UnknownOperation,
)
from fakerek.api.serialize import serialize
from fakerek.api.service_model import service
from fakerek.domain import lifecycle
from fakerek.operations import context
from fakerek.operations.dispatch import invoke
from fakerek.operations.services import Services
from fakerek.web import current
from fakerek.web.responses import (
    LABEL,
    BodyTooLarge,
    NotJson,
    StartResponse,
    json_bytes,
    read_json,
    status_line,
)

log = logging.getLogger("fakerek")
CONTENT_TYPE = "application/x-amz-json-1.1"


def view() -> Response:
    """Flask's route for `/`: a POST never reaches it (`serve` answers it first, in the pipeline);
    the route exists so that Flask answers the other methods with 405 and their `Allow`."""
    return _as_response(_answer(current(), request.environ))


def is_rekognition(environ: dict[str, Any]) -> bool:
    """A Rekognition request names its operation, or at least speaks JSON 1.1."""
    return "HTTP_X_AMZ_TARGET" in environ or environ.get("CONTENT_TYPE", "").startswith(
        "application/x-amz-json"
    )


class Reply(NamedTuple):
    status: int
    body: bytes
    headers: list[tuple[str, str]]


def serve(
    services: Services, environ: dict[str, Any], start_response: StartResponse
) -> list[bytes]:
    """`POST /` with `X-Amz-Target: RekognitionService.<Operation>`, as a plain WSGI call: no
    request object, no response object (a third of a small call's time went to them)."""
    reply = _answer(services, environ)
    headers = [
        ("Content-Type", CONTENT_TYPE),
        ("Content-Length", str(len(reply.body))),
        *reply.headers,
    ]
    start_response(status_line(reply.status), headers)
    return [reply.body]


def _answer(services: Services, environ: dict[str, Any]) -> Reply:
    request_id = str(uuid.uuid4())
    operation = ""
    try:
        operation = _operation(environ.get("HTTP_X_AMZ_TARGET", ""))
        environ[LABEL] = operation
        ctx = context.for_request(
            services, environ.get("HTTP_AUTHORIZATION"), operation, request_id
        )
        output = invoke(ctx, lambda: _json_body(environ, ctx.settings.max_body_bytes))
        model = service().operation(operation)
        body = json_bytes(serialize(model.output_shape, output))
        return Reply(200, body, [("x-amzn-RequestId", request_id)])
    except AwsError as error:
        return _error(service().http_status(error.code), error.code, error.message, request_id)
    except BodyTooLarge as error:
        log.info("%s: %s (raise --max-body-bytes to accept it)", operation, error)
        return _error(413, "RequestEntityTooLargeException", str(error), request_id)
    except Exception:
        log.exception("unexpected error in %s (request %s)", operation or "request", request_id)
        internal = internal_error(request_id)
        return _error(
            service().http_status(internal.code), internal.code, internal.message, request_id
        )


def internal_error(request_id: str) -> InternalServerError:
    return InternalServerError(
        f"{lifecycle.SERVICE_ISSUE} "
        f"(fakerek {__version__} hit an internal error; see its log for request {request_id}.)"
    )


def error_status(status: int, code: str, message: str) -> Response:
    """An AWS JSON error with an HTTP status of the transport (404, 405, 413, 500)."""
    return _as_response(_error(status, code, message, str(uuid.uuid4())))


def _error(status: int, code: str, message: str, request_id: str) -> Reply:
    payload = {"__type": code, "Code": code, "Message": message, "Logref": request_id}
    headers = [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", code)]
    return Reply(status, json_bytes(payload), headers)


def _as_response(reply: Reply) -> Response:
    return Response(
        reply.body, status=reply.status, headers=reply.headers, content_type=CONTENT_TYPE
    )


def _operation(target: str) -> str:
    """The operation an `X-Amz-Target` names (`invoke` says whether fakerek serves it)."""
    prefix = service().target_prefix + "."
    if not target.startswith(prefix):
        shown = f"'{target}'" if target else "missing"
        raise UnknownOperation(f"X-Amz-Target is {shown}; expected {prefix}<Operation>.")
    return target[len(prefix) :]


def _json_body(environ: dict[str, Any], limit: int) -> object:
    try:
        declared = int(environ.get("CONTENT_LENGTH") or 0) or None
    except ValueError:
        declared = None
    try:
        return read_json(environ["wsgi.input"], declared, limit)
    except NotJson as error:
        raise SerializationError(str(error)) from None

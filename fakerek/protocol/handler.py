"""A Rekognition request from top to bottom: target → fault → body → validation → operation.

Whatever goes wrong becomes an AWS JSON 1.1 error with `__type`, `Message` and `Code`; an
unexpected exception is logged here and answered as InternalServerError without a stack trace.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from fakerek import __version__, lifecycle
from fakerek.context import Ctx
from fakerek.http import BodyTooLarge, Response, json_response, read_body
from fakerek.operations import OPERATIONS
from fakerek.protocol import sigv4
from fakerek.protocol.errors import (
    AwsError,
    InternalServerError,
    SerializationError,
    UnknownOperation,
)
from fakerek.protocol.model import CUSTOM_LABELS_OPERATIONS, service
from fakerek.protocol.serialize import serialize
from fakerek.protocol.validate import parse_input

if TYPE_CHECKING:
    from fakerek.app import App

log = logging.getLogger("fakerek")
CONTENT_TYPE = "application/x-amz-json-1.1"


def handle(app: App, environ: dict[str, Any]) -> Response:
    request_id = str(uuid.uuid4())
    operation = ""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    try:
        operation = _operation(target)
        fault = app.faults.take(operation)
        if fault is not None:
            raise fault
        settings = app.config.snapshot()
        model = service().operation(operation)
        params = parse_input(model.input_shape, _json_body(environ, settings.max_body_bytes))
        caller = sigv4.caller(
            environ.get("HTTP_AUTHORIZATION"), settings.account_id, settings.region
        )
        ctx = Ctx(
            store=app.store,
            settings=settings,
            account=caller.account,
            region=caller.region,
            now_ms=lifecycle.now_ms(),
            operation=operation,
            request_id=request_id,
            jobs=app.jobs,
            objects=app.objects(settings),
            faults=app.faults,
            models=app.models,
            rules=app.rules,
            capacity=app.capacity,
        )
        output = OPERATIONS[operation](ctx, params)
        return json_response(
            200,
            serialize(model.output_shape, output),
            content_type=CONTENT_TYPE,
            label=operation,
            headers=[("x-amzn-RequestId", request_id)],
        )
    except AwsError as error:
        if operation and error.code not in service().errors_of(operation):
            log.error("%s answered %s, which its model does not list", operation, error.code)
        return error_response(error, request_id, operation or target)
    except BodyTooLarge as error:
        return _error_body(413, "RequestEntityTooLargeException", str(error), request_id, operation)
    except Exception:
        log.exception("unexpected error in %s (request %s)", operation or "request", request_id)
        return error_response(
            InternalServerError(
                "Amazon Rekognition experienced a service issue. "
                f"(fakerek {__version__} hit an internal error; see its log for "
                f"request {request_id}.)"
            ),
            request_id,
            operation,
        )


def error_response(error: AwsError, request_id: str, operation: str = "") -> Response:
    return _error_body(
        service().http_status(error.code), error.code, error.message, request_id, operation
    )


def _error_body(status: int, code: str, message: str, request_id: str, operation: str) -> Response:
    payload = {"__type": code, "Code": code, "Message": message, "Logref": request_id}
    return json_response(
        status,
        payload,
        content_type=CONTENT_TYPE,
        label=operation or "?",
        headers=[("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", code)],
    )


def _operation(target: str) -> str:
    prefix = service().target_prefix + "."
    if not target.startswith(prefix):
        shown = f"'{target}'" if target else "missing"
        raise UnknownOperation(f"X-Amz-Target is {shown}; expected {prefix}<Operation>.")
    name = target[len(prefix) :]
    if not service().has_operation(name):
        raise UnknownOperation(f"Amazon Rekognition has no operation named {name!r}.")
    if name not in CUSTOM_LABELS_OPERATIONS:
        raise UnknownOperation(
            f"{name} is an Amazon Rekognition operation outside Custom "
            "Labels; fakerek emulates only Rekognition Custom Labels."
        )
    if name not in OPERATIONS:
        raise UnknownOperation(
            f"{name} belongs to Rekognition Custom Labels but is not "
            f"implemented by fakerek {__version__} yet."
        )
    return name


def _reject_constant(name: str) -> Any:
    raise SerializationError(f"{name} is not a valid JSON number.")


def _json_body(environ: dict[str, Any], limit: int) -> Any:
    raw = read_body(environ, limit)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise SerializationError("The request body is not valid UTF-8.") from None
    except RecursionError:
        raise SerializationError("The request body is nested too deeply.") from None
    except ValueError as error:
        raise SerializationError(f"The request body is not valid JSON: {error}.") from None

"""The request pipeline: every request to fakerek's port goes through one ordered list
(`Dispatch`):

1. `/_fakerek/…`                          → Flask: the control blueprint (and the console)
2. `X-Amz-Target` or the JSON 1.1 type    → Flask: the Rekognition endpoint, `POST /`
3. anything else                          → the embedded S3 (moto's S3 app, made durable), or a
                                            JSON 404 when users' objects live on another endpoint

S3 and Rekognition share `POST /`, so S3 cannot be a Flask route; it is the fallback in front.
Flask's HTML error pages never reach a client: errors under /_fakerek/ answer JSON
`{"error": …}`, every other Flask error answers an AWS JSON 1.1 error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from fakerek.operations.services import Services
from fakerek.web import EXTENSION, control, rekognition
from fakerek.web.console import pages as console
from fakerek.web.responses import LABEL, json_response

log = logging.getLogger("fakerek")


def install(app: Flask, services: Services) -> None:
    """Register the surfaces on `app` and put `Dispatch` in front of it."""
    app.extensions[EXTENSION] = services
    app.add_url_rule("/", "rekognition", rekognition.view, methods=["POST"])
    app.register_blueprint(control.blueprint, url_prefix=control.PREFIX)
    app.register_blueprint(console.blueprint, url_prefix=console.PREFIX)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.wsgi_app = Dispatch(app.wsgi_app, services)  # type: ignore[method-assign]


def _http_error(error: HTTPException) -> Response:
    status = error.code or 500
    headers = []
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        headers = [("Allow", ", ".join(error.valid_methods))]
    if request.path.startswith(control.PREFIX + "/"):
        message = f"{request.method} {request.path}: {error.name}"
        if isinstance(error, MethodNotAllowed):
            message += f"; it accepts {', '.join(error.valid_methods or [])}"
        elif status == 404:
            known = {r.rule for r in current_app.url_map.iter_rules()}
            message += "; known: " + ", ".join(
                sorted(k for k in known if k.startswith(control.PREFIX + "/"))
            )
        return json_response(status, {"error": message}, headers=headers)
    response = rekognition.error_status(
        status,
        "UnknownOperationException",
        f"{request.method} {request.path} is not an Amazon Rekognition endpoint; "
        "send POST / with X-Amz-Target.",
    )
    response.headers.extend(headers)
    return response


def _unexpected_error(error: Exception) -> Response:
    log.exception("unexpected error serving %s %s", request.method, request.path)
    if request.path.startswith(control.PREFIX + "/"):
        return json_response(500, {"error": "internal error; see the fakerek log"})
    return rekognition.error_status(
        500, "InternalServerError", "Amazon Rekognition experienced a service issue."
    )


class Dispatch:
    """WSGI middleware in front of Flask: sends S3 requests to S3, times and logs the rest."""

    def __init__(self, flask_app: Any, services: Services):
        self.flask_app = flask_app
        self.services = services

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        started = time.perf_counter()
        path = environ.get("PATH_INFO", "")
        if not path.startswith(control.PREFIX + "/") and not rekognition.is_rekognition(environ):
            return self._s3(environ, start_response, started)

        def timed(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            elapsed_ms = (time.perf_counter() - started) * 1000
            headers.append(("Server-Timing", f"app;dur={elapsed_ms:.3f}"))
            label = environ.get(LABEL) or f"{environ.get('REQUEST_METHOD')} {path}"
            log.info("%s %s %.2fms", label, status.split(" ", 1)[0], elapsed_ms)
            return start_response(status, headers, exc_info)

        return self.flask_app(environ, timed)  # type: ignore[no-any-return]

    def _s3(self, environ: dict[str, Any], start_response: Any, started: float) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD"), _text(environ.get("PATH_INFO", ""))
        s3 = self.services.s3
        if s3 is None:
            external = self.services.config.snapshot().s3_endpoint_url
            response = json_response(
                404, {"error": f"this fakerek does not serve S3; it uses the S3 at {external}"}
            )
            return response(environ, start_response)  # type: ignore[no-any-return]
        body = s3(environ, start_response)
        log.info("S3 %s %s %.2fms", method, path, (time.perf_counter() - started) * 1000)
        return body


def _text(path: str) -> str:
    """PATH_INFO carries UTF-8 bytes as latin-1 characters (PEP 3333)."""
    try:
        return path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return path

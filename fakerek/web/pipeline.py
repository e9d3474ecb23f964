"""The request pipeline: every request to fakerek's port goes through one ordered list
(`Dispatch`). First the guards, each of which may answer the request itself (refusals in the
error format of the surface the request is for):

1. Host                      a loopback name or address, the bound address or a name of
                             --allowed-hosts (web/hosts.py: DNS rebinding), else 403
2. control API changes       /_fakerek/ requests other than GET and HEAD come from no page or
                             from fakerek's own (Origin, else Referer): else 403; and a change
                             is sent as application/json: else 415 (no cross-site form or
                             `no-cors` fetch can send it without a preflight)
3. console changes           from fakerek's own pages only (Origin, else Referer), else 403
4. CORS, Rekognition and S3  OPTIONS is a preflight, answered here; a request from another
                             site's page is refused unless --cors-origins lists it (web/cors.py)

then the surfaces:

5. `/_fakerek/…`                          → Flask: the control blueprint (and the console)
6. `X-Amz-Target` or the JSON 1.1 type    → the Rekognition endpoint: `POST /` as plain WSGI
                                            (`rekognition.serve`), other methods → Flask (405)
7. anything else                          → the embedded S3 (moto's S3 app, made durable), or a
                                            JSON 404 when users' objects live on another endpoint

S3 and Rekognition share `POST /`, so S3 cannot be a Flask route; it is the fallback in front.
Flask's HTML error pages never reach a client: errors under /_fakerek/ answer JSON
`{"error": …}`, every other Flask error answers an AWS JSON 1.1 error.
"""

from __future__ import annotations

import enum
import http
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Literal, NamedTuple

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from fakerek.domain import lifecycle
from fakerek.operations.services import Services
from fakerek.s3.embedded import s3_error
from fakerek.web import EXTENSION, control, rekognition
from fakerek.web.console import pages as console
from fakerek.web.console import web as console_web
from fakerek.web.cors import CorsRules, without_cors
from fakerek.web.hosts import HostRules
from fakerek.web.responses import LABEL, json_response

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("fakerek")


def install(app: Flask, services: Services) -> None:
    """Register the surfaces on `app` and put `Dispatch` in front of it."""
    app.extensions[EXTENSION] = services
    app.add_url_rule("/", "rekognition", rekognition.view, methods=["POST"])
    app.register_blueprint(control.blueprint, url_prefix=control.PREFIX)
    app.register_blueprint(console.blueprint, url_prefix=console.PREFIX)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.wsgi_app = Dispatch(app, services)  # type: ignore[method-assign]


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
    return rekognition.error_status(500, "InternalServerError", lifecycle.SERVICE_ISSUE)


class Surface(enum.Enum):
    CONTROL = "control API"
    CONSOLE = "console"
    REKOGNITION = "Rekognition endpoint"
    S3 = "S3"


def surface_of(environ: WSGIEnvironment) -> Surface:
    path = environ.get("PATH_INFO", "")
    if path.startswith(console.PREFIX + "/"):
        return Surface.CONSOLE
    if path.startswith(control.PREFIX + "/"):
        return Surface.CONTROL
    if rekognition.is_rekognition(environ):
        return Surface.REKOGNITION
    asked = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "").lower()
    if environ.get("REQUEST_METHOD") == "OPTIONS" and "x-amz-target" in asked:
        return Surface.REKOGNITION  # the preflight of a Rekognition call
    return Surface.S3


class Refusal(NamedTuple):
    status: Literal[400, 403, 415]
    message: str
    s3_code: str = "AccessDenied"  # what S3 calls it; Rekognition's follows from the status


class Allowed(NamedTuple):
    """A preflight answered with these headers."""

    headers: list[tuple[str, str]]


Answer = Refusal | Allowed | None
_CHANGES = ("POST", "PUT", "PATCH", "DELETE")
_CROSS_ORIGIN = "fakerek.cors_origin"  # environ: the allowed origin of a cross-origin request


class Dispatch:
    """WSGI middleware in front of Flask: guards, then sends S3 requests to S3, times and logs
    the rest."""

    def __init__(self, app: Flask, services: Services):
        self.app = app
        self.flask_app = app.wsgi_app
        self.services = services
        settings = services.config.snapshot()  # the settings read here are start-up only
        self.hosts = HostRules(settings.host, settings.allowed_host_names)
        self.cors = CorsRules(settings.cors_origin_list)
        self.steps: tuple[Callable[[Surface, WSGIEnvironment], Answer], ...] = (
            self._host,
            self._control_change,
            self._console_change,
            self._cross_origin,
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        surface = surface_of(environ)
        for step in self.steps:
            answer = step(surface, environ)
            if answer is not None:
                return self._answer(surface, answer, environ, start_response)
        if surface is Surface.S3 or environ.get(_CROSS_ORIGIN):
            start_response = self._with_cors(environ.get(_CROSS_ORIGIN), start_response)
        if surface is Surface.S3:
            return self._s3(environ, start_response, started)
        path = environ.get("PATH_INFO", "")

        def timed(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Callable[[bytes], object]:
            elapsed_ms = (time.perf_counter() - started) * 1000
            headers.append(("Server-Timing", f"app;dur={elapsed_ms:.3f}"))
            label = environ.get(LABEL) or f"{environ.get('REQUEST_METHOD')} {path}"
            log.info("%s %s %.2fms", label, status.split(" ", 1)[0], elapsed_ms)
            return start_response(status, headers, exc_info)

        if surface is Surface.REKOGNITION and path == "/" and environ["REQUEST_METHOD"] == "POST":
            return rekognition.serve(self.services, environ, timed)
        return self.flask_app(environ, timed)

    # -- the guards, in order ------------------------------------------------------------------

    def _host(self, surface: Surface, environ: WSGIEnvironment) -> Answer:
        host = environ.get("HTTP_HOST")
        if self.hosts.allows_host(host):
            return None
        return Refusal(
            403,
            f"the Host {host!r} is refused: fakerek answers loopback names and addresses, the "
            f"address it binds ({self.hosts.bind}) and the names of --allowed-hosts "
            "(FAKEREK_ALLOWED_HOSTS)",
        )

    def _foreign_page(self, environ: WSGIEnvironment) -> str | None:
        """The origin of the page that sent this request when it is not one of fakerek's own
        (Origin, or without it Referer); None for fakerek's pages and for clients that are no
        page."""
        origin = environ.get("HTTP_ORIGIN")
        if origin is None:
            referer = environ.get("HTTP_REFERER")
            if not referer:
                return None
            scheme, _, rest = referer.partition("://")
            origin = f"{scheme}://{rest.split('/', 1)[0]}"
        return None if self.hosts.is_own(origin, environ.get("HTTP_HOST")) else origin

    def _control_change(self, surface: Surface, environ: WSGIEnvironment) -> Answer:
        method = environ.get("REQUEST_METHOD", "GET")
        if surface is not Surface.CONTROL or method in ("GET", "HEAD"):
            return None
        foreign = self._foreign_page(environ)
        if foreign is not None:
            return Refusal(
                403,
                f"a change from {foreign} is refused: the control API takes changes from "
                "fakerek's own pages and from clients that send no Origin",
            )
        content_type = environ.get("CONTENT_TYPE", "")
        mimetype = content_type.split(";", 1)[0].strip().lower()
        if method in _CHANGES and mimetype != "application/json":
            return Refusal(
                415,
                "the control API takes changes sent as Content-Type: application/json; this "
                f"request's is {content_type or 'missing'}",
            )
        return None

    def _console_change(self, surface: Surface, environ: WSGIEnvironment) -> Answer:
        if surface is not Surface.CONSOLE or environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return None
        foreign = self._foreign_page(environ)
        if foreign is None:
            return None
        message = f"a change from {foreign} is refused: the console accepts its own pages"
        return Refusal(403, message)

    def _cross_origin(self, surface: Surface, environ: WSGIEnvironment) -> Answer:
        if surface not in (Surface.REKOGNITION, Surface.S3):
            return None
        origin = environ.get("HTTP_ORIGIN")
        preflight = environ.get("REQUEST_METHOD") == "OPTIONS"
        if origin is None:
            if preflight:
                message = "OPTIONS is a CORS preflight here, and a preflight sends Origin"
                return Refusal(400, message, "BadRequest")
            return None
        own = self.hosts.is_own(origin, environ.get("HTTP_HOST"))
        if not own and not self.cors.allows(origin):
            return Refusal(
                403,
                f"a request from a page of {origin} is refused: CORS is allowed for the origins "
                "of --cors-origins (FAKEREK_CORS_ORIGINS)",
                "AccessForbidden" if preflight else "AccessDenied",
            )
        if preflight:
            answer = self.cors.preflight(
                origin,
                environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"),
                environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"),
            )
            if answer.malformed:
                return Refusal(400, answer.refused, "BadRequest")
            if answer.refused:
                return Refusal(403, answer.refused, "AccessForbidden")
            return Allowed(answer.headers)
        if not own:
            environ[_CROSS_ORIGIN] = origin
        return None

    # -- answers ---------------------------------------------------------------------------------

    def _answer(
        self,
        surface: Surface,
        answer: Refusal | Allowed,
        environ: WSGIEnvironment,
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD"), _text(environ.get("PATH_INFO", ""))
        if isinstance(answer, Allowed):
            log.info("CORS preflight %s %s from %s 200", method, path, environ.get("HTTP_ORIGIN"))
            start_response("200 OK", [*answer.headers, ("Content-Length", "0")])
            return []
        log.warning("refused %s %s (%s): %s", method, path, surface.value, answer.message)
        status = answer.status
        if surface is Surface.S3:
            line = f"{status} {http.HTTPStatus(status).phrase}"
            return s3_error(start_response, line, answer.s3_code, answer.message)
        if surface is Surface.REKOGNITION:
            code = "AccessDeniedException" if status == 403 else "InvalidParameterException"
            response = rekognition.error_status(status, code, answer.message)
        elif surface is Surface.CONTROL:
            response = json_response(status, {"error": answer.message})
        else:
            with self.app.request_context(environ):
                response = console_web.refusal(status, answer.message)
        return response(environ, start_response)

    @staticmethod
    def _with_cors(origin: str | None, start_response: StartResponse) -> StartResponse:
        """`start_response` for an answer whose CORS headers are fakerek's only: moto's are
        dropped, and an allowed cross-origin request's `origin` is named."""

        def answer(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Callable[[bytes], object]:
            headers = without_cors(headers)
            if origin is not None:
                headers += CorsRules.response_headers(origin, headers)
            return start_response(status, headers, exc_info)

        return answer

    def _s3(
        self, environ: WSGIEnvironment, start_response: StartResponse, started: float
    ) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD"), _text(environ.get("PATH_INFO", ""))
        s3 = self.services.s3
        if s3 is None:
            external = self.services.config.snapshot().s3_endpoint_url
            response = json_response(
                404, {"error": f"this fakerek does not serve S3; it uses the S3 at {external}"}
            )
            return response(environ, start_response)
        body = s3(environ, start_response)
        log.info("S3 %s %s %.2fms", method, path, (time.perf_counter() - started) * 1000)
        return body


def _text(path: str) -> str:
    """PATH_INFO carries UTF-8 bytes as latin-1 characters (PEP 3333)."""
    try:
        return path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return path

"""The test-double control API under /_fakerek/: health, reset, config and faults.

Plain JSON in and out; a bad request answers 400 `{"error": "..."}` and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fakerek import __version__
from fakerek.config import SettingError
from fakerek.faults import FaultError
from fakerek.http import BodyTooLarge, Response, json_response, read_body
from fakerek.rules import RuleError

if TYPE_CHECKING:
    from fakerek.app import App

PREFIX = "/_fakerek/"
CONTROL_BODY_LIMIT = 1024 * 1024


class BadRequest(Exception):
    pass


def health(app: App, body: Any) -> Any:
    return {"status": "ok", "version": __version__}


def reset(app: App, body: Any) -> Any:
    app.reset()
    return {"status": "reset"}


def get_config(app: App, body: Any) -> Any:
    return app.config.as_json()


def post_config(app: App, body: Any) -> Any:
    return app.config.update(body)


def get_faults(app: App, body: Any) -> Any:
    return {"faults": app.faults.list()}


def post_fault(app: App, body: Any) -> Any:
    return app.faults.add(body)


def clear_faults(app: App, body: Any) -> Any:
    app.faults.clear()
    return {"faults": []}


def get_rules(app: App, body: Any) -> Any:
    return {"rules": app.rules.list()}


def post_rule(app: App, body: Any) -> Any:
    return app.rules.add(body)


def clear_rules(app: App, body: Any) -> Any:
    app.rules.clear()
    return {"rules": []}


ROUTES: dict[str, dict[str, Callable[[App, Any], Any]]] = {
    "health": {"GET": health},
    "reset": {"POST": reset},
    "config": {"GET": get_config, "POST": post_config},
    "faults": {"GET": get_faults, "POST": post_fault, "DELETE": clear_faults},
    "rules": {"GET": get_rules, "POST": post_rule, "DELETE": clear_rules},
}


def handle(app: App, environ: dict[str, Any]) -> Response:
    path = environ.get("PATH_INFO", "")
    name = path[len(PREFIX):].strip("/")
    method = environ.get("REQUEST_METHOD", "GET")
    methods = ROUTES.get(name)
    if methods is None:
        return json_response(404, {"error": f"no control endpoint {path}; known: "
                                   + ", ".join(PREFIX + n for n in ROUTES)}, label=path)
    handler = methods.get(method)
    if handler is None:
        return json_response(405, {"error": f"{path} accepts {', '.join(methods)}"}, label=path,
                             headers=[("Allow", ", ".join(methods))])
    try:
        body = _body(environ) if method == "POST" else None
        return json_response(200, handler(app, body), label=f"{method} {path}")
    except (BadRequest, SettingError, FaultError, RuleError, BodyTooLarge) as error:
        return json_response(400, {"error": str(error)}, label=f"{method} {path}")


def _body(environ: dict[str, Any]) -> Any:
    raw = read_body(environ, CONTROL_BODY_LIMIT)
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("the body is not valid JSON") from None

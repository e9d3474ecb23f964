"""The test-double control API under /_fakerek/: health, reset, config and faults.

Plain JSON in and out; a bad request answers 400 `{"error": "..."}` and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

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
    if isinstance(body, dict) and "units_lost" in body:
        return _lose_units(app, body)
    return app.faults.add(body)


def _lose_units(app: App, body: dict[str, Any]) -> Any:
    spec = body["units_lost"]
    if len(body) != 1 or not isinstance(spec, dict) or set(spec) != {"model", "units", "seconds"}:
        raise BadRequest(
            'a unit loss is {"units_lost": {"model": "<version ARN>", "units": N, "seconds": T}}'
        )
    units, seconds = spec["units"], spec["seconds"]
    if isinstance(units, bool) or not isinstance(units, int) or units < 1:
        raise BadRequest("units must be an integer >= 1")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
        raise BadRequest("seconds must be a number > 0")
    if not app.capacity.running(spec["model"]):
        raise BadRequest(f"no running model {spec['model']!r}")
    app.capacity.lose_units(spec["model"], units, float(seconds))
    return body


def get_usage(app: App, query: Any) -> Any:
    """Every running model, or one: `?model=<version ARN>`."""
    models = app.capacity.usage()
    wanted = (query or {}).get("model")
    if wanted is not None:
        models = [m for m in models if m["ProjectVersionArn"] == wanted]
        if not models:
            raise BadRequest(f"no running model {wanted!r}")
    return {"models": models}


def post_clock(app: App, body: Any) -> Any:
    """`{"freeze": true|false}` stops or restarts the clock; `{"advance": s}` moves it on."""
    if not isinstance(body, dict) or not body or body.keys() - {"freeze", "advance"}:
        raise BadRequest('the body is {"freeze": true|false} and/or {"advance": <seconds>}')
    seconds = body.get("advance", 0)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise BadRequest("advance must be a number of seconds >= 0")
    if "freeze" in body:
        if not isinstance(body["freeze"], bool):
            raise BadRequest("freeze must be true or false")
        app.capacity.clock.freeze(body["freeze"])
    app.capacity.clock.advance(float(seconds))
    return {"advanced_seconds": seconds, "frozen": body.get("freeze")}


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
    "usage": {"GET": get_usage},
    "clock": {"POST": post_clock},
}


def handle(app: App, environ: dict[str, Any]) -> Response:
    path = environ.get("PATH_INFO", "")
    name = path[len(PREFIX) :].strip("/")
    method = environ.get("REQUEST_METHOD", "GET")
    methods = ROUTES.get(name)
    if methods is None:
        return json_response(
            404,
            {
                "error": f"no control endpoint {path}; known: "
                + ", ".join(PREFIX + n for n in ROUTES)
            },
            label=path,
        )
    handler = methods.get(method)
    if handler is None:
        return json_response(
            405,
            {"error": f"{path} accepts {', '.join(methods)}"},
            label=path,
            headers=[("Allow", ", ".join(methods))],
        )
    try:
        if method == "POST":
            body = _body(environ)
        else:  # GET and DELETE take their arguments from the query string
            body = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
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

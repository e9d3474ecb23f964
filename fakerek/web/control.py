"""The test-double control API under /_fakerek/: health, reset, config, faults, rules, the base
moderation model, usage and the server's clock — a Flask blueprint.

Plain JSON in and out; a bad request answers 400 `{"error": "..."}` and changes nothing.

    GET  health                         {"status": "ok", "version": ...}; 503 "degraded" while
                                        the database cannot be written
    POST reset                          forget everything; start-up settings; no faults, rules
    GET  config  | POST config          the live settings | change some of them
    GET  faults  | POST faults | DELETE faults   pending faults (operation, training, units lost)
    GET  rules   | POST rules  | DELETE rules    DetectCustomLabels result rules
    GET  moderation                     the base moderation model and its releases
    POST moderation/release             a newer base model: adapters on older ones deprecated
    POST moderation/expire              every deprecated adapter's grace period ends now
    GET  usage[?model=<version ARN>]   inference units and requests of running models
    POST clock                          freeze and/or advance the clock: statuses, timestamps,
                                        billed time, autoscaling and usage follow it
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request

from fakerek import __version__
from fakerek.config import MAX_INTEGER, MAX_SECONDS, SettingError
from fakerek.operations import adapters
from fakerek.operations.faults import FaultError
from fakerek.operations.rules import RuleError
from fakerek.operations.services import Services
from fakerek.web import current
from fakerek.web.responses import LABEL, BodyTooLarge, NotJson, json_response, read_json

PREFIX = "/_fakerek"
CONTROL_BODY_LIMIT = 1024 * 1024

blueprint = Blueprint("control", __name__)


class BadRequest(Exception):
    pass


Handler = Callable[[Services, Any], Any]


def route(rule: str, method: str) -> Callable[[Handler], Handler]:
    """Register `handler(services, body_or_query) -> JSON` for `method` on `rule`."""

    def register(handler: Handler) -> Handler:
        def view() -> Response:
            request.environ[LABEL] = f"{method} {PREFIX}{rule}"
            try:
                argument = _body() if method == "POST" else request.args.to_dict()
                return json_response(200, handler(current(), argument))
            except (BadRequest, SettingError, FaultError, RuleError, BodyTooLarge) as error:
                return json_response(400, {"error": str(error)})

        blueprint.add_url_rule(
            rule, endpoint=handler.__name__, view_func=view, methods=[method], strict_slashes=False
        )
        return handler

    return register


@blueprint.get("/health", strict_slashes=False)
def health() -> Response:
    """503 while the database cannot be written (the disk is full...): background work cannot
    record how it ended, and a container's health check should say so."""
    request.environ[LABEL] = f"GET {PREFIX}/health"
    failure = current().store.write_failure
    if failure is None:
        return json_response(200, {"status": "ok", "version": __version__})
    problem = f"the database cannot be written: {failure}"
    return json_response(503, {"status": "degraded", "version": __version__, "problem": problem})


@route("/reset", "POST")
def reset(services: Services, body: Any) -> Any:
    services.reset()
    return {"status": "reset"}


@route("/config", "GET")
def get_config(services: Services, query: Any) -> Any:
    return services.config.as_json()


@route("/config", "POST")
def post_config(services: Services, body: Any) -> Any:
    return services.config.update(body)


@route("/faults", "GET")
def get_faults(services: Services, query: Any) -> Any:
    return {"faults": services.faults.list()}


@route("/faults", "POST")
def post_fault(services: Services, body: Any) -> Any:
    if isinstance(body, dict) and "units_lost" in body:
        return _lose_units(services, body)
    return services.faults.add(body)


def _lose_units(services: Services, body: dict[str, Any]) -> Any:
    spec = body["units_lost"]
    if len(body) != 1 or not isinstance(spec, dict) or set(spec) != {"model", "units", "seconds"}:
        raise BadRequest(
            'a unit loss is {"units_lost": {"model": "<version ARN>", "units": N, "seconds": T}}'
        )
    model, units, seconds = spec["model"], spec["units"], spec["seconds"]
    if not isinstance(model, str):
        raise BadRequest("model must be a model version ARN")
    if isinstance(units, bool) or not isinstance(units, int) or units < 1:
        raise BadRequest("units must be an integer >= 1")
    if not _seconds(seconds) or seconds <= 0:
        raise BadRequest(f"seconds must be a number > 0 and at most {MAX_SECONDS}")
    if units > MAX_INTEGER:
        raise BadRequest(f"units must be at most {MAX_INTEGER}")
    if not services.capacity.running(model):
        raise BadRequest(f"no running model {model!r}")
    services.capacity.lose_units(model, units, float(seconds))
    return body


@route("/faults", "DELETE")
def clear_faults(services: Services, query: Any) -> Any:
    services.faults.reset()
    return {"faults": []}


@route("/rules", "GET")
def get_rules(services: Services, query: Any) -> Any:
    return {"rules": services.rules.list()}


@route("/rules", "POST")
def post_rule(services: Services, body: Any) -> Any:
    return services.rules.add(body)


@route("/rules", "DELETE")
def clear_rules(services: Services, query: Any) -> Any:
    services.rules.reset()
    return {"rules": []}


@route("/moderation", "GET")
def get_moderation(services: Services, query: Any) -> Any:
    """The base moderation model, the ones released so far, the default grace period."""
    return adapters.moderation_state(services)


@route("/moderation/release", "POST")
def release_base_model(services: Services, body: Any) -> Any:
    """`{"version": "7.1", "grace_days": 60}`: a newer base moderation model is out."""
    if not isinstance(body, dict) or not body.keys() <= {"version", "grace_days"}:
        raise BadRequest('the body is {"version": "<new base model>", "grace_days": <days>}')
    try:
        return adapters.release_base_model(services, body.get("version"), body.get("grace_days"))
    except ValueError as error:
        raise BadRequest(str(error)) from None


@route("/moderation/expire", "POST")
def expire_adapters(services: Services, body: Any) -> Any:
    """End the grace period of every DEPRECATED adapter now."""
    if body != {}:
        raise BadRequest("the body is empty (or {})")
    return adapters.expire_adapters(services)


@route("/usage", "GET")
def get_usage(services: Services, query: Any) -> Any:
    """Every running model, or one: `?model=<version ARN>`."""
    models = services.capacity.usage()
    wanted = query.get("model")
    if wanted is not None:
        models = [m for m in models if m["ProjectVersionArn"] == wanted]
        if not models:
            raise BadRequest(f"no running model {wanted!r}")
    return {"models": models}


@route("/clock", "POST")
def post_clock(services: Services, body: Any) -> Any:
    """`{"freeze": true|false}` stops or restarts the clock; `{"advance": s}` moves it on. The
    answer comes once background work due by the new time has ended (see `Services.move_clock`);
    `now` is the clock's time after the move, in epoch seconds."""
    if not isinstance(body, dict) or not body or body.keys() - {"freeze", "advance"}:
        raise BadRequest('the body is {"freeze": true|false} and/or {"advance": <seconds>}')
    seconds = body.get("advance", 0)
    if not _seconds(seconds) or seconds < 0:
        raise BadRequest(f"advance must be a number of seconds from 0 to {MAX_SECONDS}")
    if "freeze" in body and not isinstance(body["freeze"], bool):
        raise BadRequest("freeze must be true or false")
    now = services.move_clock(body.get("freeze"), float(seconds))
    return {"advanced_seconds": seconds, "frozen": body.get("freeze"), "now": now}


def _seconds(value: Any) -> bool:
    """A JSON number of seconds fakerek can compute with: not a boolean, at most MAX_SECONDS."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and -MAX_SECONDS <= value <= MAX_SECONDS
    )


def _body() -> Any:
    try:
        return read_json(request.stream, request.content_length, CONTROL_BODY_LIMIT)
    except NotJson:
        raise BadRequest("the body is not valid JSON") from None

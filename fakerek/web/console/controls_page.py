"""The test double's controls as forms: timing and delays, pending faults, result rules, the base
moderation model's releases, reset.

Each form calls what the control API (`/_fakerek/...`) calls, with the same checks and errors.
"""

from __future__ import annotations

import json
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from fakerek.api.service_model import CUSTOM_LABELS_OPERATIONS
from fakerek.api.wire import JsonObject
from fakerek.config import DELAY_KEYS, TIMINGS, SettingError
from fakerek.operations import adapters
from fakerek.operations.faults import TRAINING_CODES, FaultError
from fakerek.operations.rules import MODERATION, RuleError
from fakerek.web import current
from fakerek.web.console.web import blueprint, done


def _here() -> str:
    return url_for("console.test_double")


@blueprint.get("/test-double")
def test_double() -> ResponseReturnValue:
    services = current()
    return render_template(
        "console/test_double.html",
        config=services.config.as_json(),
        timings=TIMINGS,
        delay_keys=DELAY_KEYS,
        faults=services.faults.list(),
        rules=services.rules.list(),
        moderation=adapters.moderation_state(services),
        operations=sorted(CUSTOM_LABELS_OPERATIONS),
        training_codes=["SERVICE_ERROR", *sorted(TRAINING_CODES)],
    )


def _refused(error: Exception) -> ResponseReturnValue:
    flash(str(error), "error")
    return redirect(_here(), 303)


def _number(name: str, text: str, kind: type[float] | type[int]) -> Any:
    """A form field's number; a message naming the field, not Python's, when it is none."""
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number of seconds"
        raise SettingError(f"{name}: {text.strip() or 'nothing'} is not {what}") from None


@blueprint.post("/test-double/config")
def post_config() -> ResponseReturnValue:
    patch: JsonObject = {"timing": request.form.get("timing", "")}
    delays = {
        key: request.form[f"delay_{key}"] for key in DELAY_KEYS if f"delay_{key}" in request.form
    }
    try:
        patch["delays"] = {
            key: _number(f"delay_{key}", value, float) for key, value in delays.items()
        }
        current().config.update(patch)
    except (SettingError, ValueError) as error:
        return _refused(error)
    return done("Timing and delays saved.", _here())


@blueprint.post("/test-double/faults")
def post_fault() -> ResponseReturnValue:
    form = request.form
    try:
        count = _number("count", form.get("count", "") or "1", int)
        if form.get("kind") == "training":
            spec: JsonObject = {"training": {"code": form.get("code", ""), "count": count}}
        else:
            spec = {"operation": form.get("operation", ""), "error": form.get("error", "")}
            spec["count"] = count
            if form.get("message", "").strip():
                spec["message"] = form["message"].strip()
        current().faults.add(spec)
    except (FaultError, ValueError) as error:
        return _refused(error)
    return done("Fault added.", _here())


@blueprint.post("/test-double/faults/clear")
def clear_faults() -> ResponseReturnValue:
    current().faults.reset()
    return done("Pending faults cleared.", _here())


@blueprint.post("/test-double/rules")
def post_rule() -> ResponseReturnValue:
    form = request.form
    spec: dict[str, Any] = {"match": {form.get("match", ""): form.get("value", "").strip()}}
    try:
        for field, key in (("labels", "labels"), ("content_types", "content_types")):
            if form.get(field, "").strip() or field == "labels":
                try:
                    spec[key] = json.loads(form.get(field, "") or "[]")
                except ValueError as error:
                    raise ValueError(f"{field}: {error}") from None
        if form.get("operation") == MODERATION:
            spec["operation"] = MODERATION
        elif "content_types" in spec:
            raise RuleError("content types apply to DetectModerationLabels rules only")
        current().rules.add(spec)
    except ValueError as error:  # RuleError is a ValueError, as is bad JSON
        return _refused(error)
    return done("Rule added.", _here())


@blueprint.post("/test-double/rules/clear")
def clear_rules() -> ResponseReturnValue:
    current().rules.reset()
    return done("Rules cleared.", _here())


@blueprint.post("/test-double/moderation/release")
def release_base_model() -> Any:
    form = request.form
    try:
        days = form.get("grace_days", "").strip()
        grace = _number("grace_days", days, float) if days else None
        released = adapters.release_base_model(current(), form.get("version", "").strip(), grace)
    except (SettingError, ValueError) as error:
        return _refused(error)
    count, retrained = len(released["deprecated"]), len(released["retraining"])
    return done(
        f"Base model {released['base_model_version']} released: {count} adapter(s) deprecated, "
        f"{retrained} retraining (auto-update).",
        _here(),
    )


@blueprint.post("/test-double/moderation/expire")
def expire_adapters() -> Any:
    expired = adapters.expire_adapters(current())["expired"]
    return done(f"{len(expired)} deprecated adapter(s) expired.", _here())


@blueprint.post("/test-double/reset")
def reset() -> ResponseReturnValue:
    current().reset()
    return done("fakerek was reset: no resources, start-up settings, no faults, no rules.", _here())

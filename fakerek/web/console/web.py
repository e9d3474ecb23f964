"""The console's blueprint and what every page shares: security headers, error pages, flashed
messages and a few template filters.

Pages are GETs; every change is a POST from one of the console's own pages. The request pipeline
(web/pipeline.py) refuses a change whose `Origin` (or, without `Origin`, whose `Referer`) is not
one of fakerek's own pages, and any request by a Host fakerek does not answer to, with this
module's error page (`refusal`), so another web page open in the same browser cannot drive it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
)
from flask.blueprints import BlueprintSetupState
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, default_exceptions

from fakerek import __version__
from fakerek.api.errors import AwsError
from fakerek.api.service_model import service
from fakerek.web.console.entries import EditError
from fakerek.web.responses import BodyTooLarge

log = logging.getLogger("fakerek.console")
PREFIX = "/_fakerek/console"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

blueprint = Blueprint(
    "console",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


class ConsoleSessions(SecureCookieSessionInterface):
    """Sessions for the console's pages only: an API call gets Flask's null session, without
    the signing serialiser and cookie parsing every request would otherwise pay for."""

    def open_session(self, app: Any, request: Any) -> SecureCookieSession | None:
        if not request.path.startswith(PREFIX + "/"):
            return None
        return super().open_session(app, request)


@blueprint.record_once
def _sessions(state: BlueprintSetupState) -> None:
    """Flashed messages live in Flask's signed session cookie: give the app a key once."""
    app = state.app
    assert isinstance(app, Flask)
    if not app.secret_key:
        app.secret_key = os.urandom(32)
    app.session_interface = ConsoleSessions()


@blueprint.after_request
def _headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = "no-store"
    return response


def back_to(default: str) -> str:
    """Where a form asks to return (a console path only: no open redirect), else `default`."""
    wanted = request.form.get("back", "")
    if wanted.startswith(PREFIX + "/") and "//" not in wanted and "\\" not in wanted:
        return wanted
    return default


def done(message: str, target: str) -> Response:
    flash(message, "success")
    return redirect(target, 303)  # type: ignore[return-value]


@blueprint.errorhandler(AwsError)
def _aws_error(error: AwsError) -> ResponseReturnValue:
    text = f"{error.code}: {error.message}"
    if request.is_json:
        return jsonify({"error": text}), service().http_status(error.code)
    if request.method == "POST":
        flash(text, "error")
        return redirect(back_to(PREFIX + "/"), 303)
    status = service().http_status(error.code)
    return render_template("console/error.html", title=error.code, message=error.message), status


@blueprint.errorhandler(EditError)
def _edit_error(error: EditError) -> ResponseReturnValue:
    if request.is_json:
        return jsonify({"error": str(error)}), 400
    flash(str(error), "error")
    return redirect(back_to(PREFIX + "/"), 303)


@blueprint.errorhandler(BodyTooLarge)
def _too_large(error: BodyTooLarge) -> ResponseReturnValue:
    return jsonify({"error": str(error)}), 413


@blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> ResponseReturnValue:
    status = error.code or 500  # an HTTPException raised by werkzeug always has one
    if request.is_json:
        return jsonify({"error": error.description}), status
    return (
        render_template("console/error.html", title=error.name, message=error.description),
        status,
    )


def refusal(status: int, message: str) -> Response:
    """The console's answer to a request the pipeline refuses, as its own errors look (an error
    page, or JSON to the page scripts' JSON requests), with the pages' security headers."""
    response = current_app.make_response(_http_error(default_exceptions[status](message)))
    return _headers(response)


@blueprint.errorhandler(Exception)
def _unexpected(error: Exception) -> ResponseReturnValue:
    log.exception("unexpected error serving %s %s", request.method, request.path)
    message = "fakerek hit an internal error; see its log."
    if request.is_json:
        return jsonify({"error": message}), 500
    return render_template("console/error.html", title="Internal error", message=message), 500


# -- template helpers ---------------------------------------------------------------------------


@blueprint.app_context_processor
def _version() -> dict[str, str]:
    """The footer of every page names the running version (as /_fakerek/health does)."""
    return {"fakerek_version": __version__}


@blueprint.app_template_filter("when")
def when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


@blueprint.app_template_filter("metric")
def metric(value: Any) -> str:
    """Evaluation metrics as the console shows them: fractions with three decimals."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.3f}"
    return "-"


@blueprint.app_template_filter("status_kind")
def status_kind(status: str | None) -> str:
    """The indicator a status gets: success, error, progress or stopped."""
    if not status:
        return "stopped"
    if "FAILED" in status or status == "EXPIRED":
        return "error"
    if status in ("RUNNING", "CREATED") or status.endswith(("_COMPLETE", "_COMPLETED")):
        return "success"
    if status.endswith(("_IN_PROGRESS", "ING")):
        return "progress"
    return "stopped"

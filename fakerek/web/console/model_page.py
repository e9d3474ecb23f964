"""A model: its status, its evaluation (metrics, per-label results, confusion matrix, test
images with their true and false positives and false negatives) and "Use model": start, stop,
usage, trying an image and the code that calls it."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue

from fakerek.api.errors import InvalidParameter, ResourceNotFound
from fakerek.api.wire import JsonObject
from fakerek.domain import arns
from fakerek.web import current
from fakerek.web.console import adapter_page, api, evaluation_report, trial
from fakerek.web.console.web import back_to, blueprint, done

TEST_PAGE = 24
RESULTS = {"tp": "true positive", "fp": "false positive", "fn": "false negative"}
TEST_RESULTS = evaluation_report.TestResults()


def _describe(arn: str) -> tuple[JsonObject, JsonObject]:
    """(project description, model description) of a model ARN."""
    project = api.project_of(arn)
    found = api.call(
        api.scope_of(arn),
        "DescribeProjectVersions",
        {"ProjectArn": project["ProjectArn"], "VersionNames": [arns.of(arn).name]},
    )["ProjectVersionDescriptions"]
    if not found or found[0]["ProjectVersionArn"] != arn:
        raise ResourceNotFound(f"The model {arn} does not exist.")
    return project, found[0]


def _evaluation(description: JsonObject) -> JsonObject:
    """The summary and test images the model points at, or why they cannot be shown."""
    objects = api.objects(api.scope_of(description["ProjectVersionArn"]))
    out: JsonObject = {"summary": None, "images": None, "problems": []}
    where = evaluation_report.s3_location(
        (description.get("EvaluationResult") or {}).get("Summary")
    )
    if where is not None:
        try:
            out["summary"] = evaluation_report.summary(objects, where)
        except evaluation_report.Unreadable as error:
            out["problems"].append(f"The evaluation summary cannot be read: {error}")
    where = evaluation_report.s3_location(
        (description.get("TestingDataResult") or {}).get("Output")
    )
    if where is not None and out["summary"] is not None:
        try:
            out["images"] = TEST_RESULTS.read(objects, where)
        except evaluation_report.Unreadable as error:
            out["problems"].append(f"The test results cannot be read: {error}")
    return out


def _test_page(images: list[evaluation_report.TestImage]) -> JsonObject:
    """The test images the filters keep, one page of them, and the counts per result."""
    result = RESULTS.get(request.args.get("result", ""))
    label = request.args.get("label", "")
    kept = [
        image
        for image in images
        if (result is None or result in image.outcomes()) and (not label or label in image.labels())
    ]
    pages = max(1, -(-len(kept) // TEST_PAGE))
    try:
        number = min(max(1, int(request.args.get("page", "1"))), pages)
    except ValueError:
        number = 1
    counts = {
        key: sum(1 for m in (m for i in images for m in i.results) if m.outcome == outcome)
        for key, outcome in RESULTS.items()
    }
    labels = sorted({name for image in images for name in image.labels()})
    return {
        "shown": kept[(number - 1) * TEST_PAGE : number * TEST_PAGE],
        "kept": len(kept),
        "page": number,
        "pages": pages,
        "counts": counts,
        "labels": labels,
    }


def _render(arn: str, detection: JsonObject | None = None) -> ResponseReturnValue:
    scope = api.scope_of(arn)
    project, description = _describe(arn)
    found = _evaluation(description)
    summary = found["summary"] or {}
    usage = [u for u in current().capacity.usage() if u["ProjectVersionArn"] == arn]
    return render_template(
        "console/model.html",
        scope=scope,
        arn=arn,
        name=arns.of(arn).name,
        project=project,
        project_name=arns.of(project["ProjectArn"]).project,
        model=description,
        summary=summary,
        aggregated=summary.get("AggregatedEvaluationResults") or {},
        per_label=summary.get("LabelEvaluationResults") or [],
        confusion=evaluation_report.confusion(summary),
        tests=_test_page(found["images"]) if found["images"] is not None else None,
        problems=found["problems"],
        usage=usage[0] if usage else None,
        detection=detection,
        endpoint=request.host_url.rstrip("/"),
        access_key=scope.account if scope.account != api.default_scope().account else "testing",
        filters=request.args,
        here=url_for("console.model", arn=arn),
    )


@blueprint.get("/model")
def model() -> ResponseReturnValue:
    arn = request.args.get("arn", "")
    project, description = _describe(arn)
    if description.get("Feature") == "CONTENT_MODERATION":
        return adapter_page.render(arn, project, description)
    return _render(arn)


def _model_url(arn: str) -> str:
    return back_to(url_for("console.model", arn=arn))


@blueprint.post("/model/start")
def start_model() -> ResponseReturnValue:
    arn = request.form["arn"]
    params: JsonObject = {"ProjectVersionArn": arn, "MinInferenceUnits": _units("min_units")}
    if request.form.get("max_units", "").strip():
        params["MaxInferenceUnits"] = _units("max_units")
    status = api.call(api.scope_of(arn), "StartProjectVersion", params)["Status"]
    return done(f"Model {arns.of(arn).name} is {status}.", _model_url(arn))


def _units(field: str) -> int:
    try:
        return int(request.form.get(field, "1"))
    except ValueError:
        raise InvalidParameter("Inference units are whole numbers.") from None


@blueprint.post("/model/stop")
def stop_model() -> ResponseReturnValue:
    arn = request.form["arn"]
    status = api.call(api.scope_of(arn), "StopProjectVersion", {"ProjectVersionArn": arn})["Status"]
    return done(f"Model {arns.of(arn).name} is {status}.", _model_url(arn))


@blueprint.post("/model/delete")
def delete_model() -> ResponseReturnValue:
    arn = request.form["arn"]
    project = api.project_of(arn)
    api.call(api.scope_of(arn), "DeleteProjectVersion", {"ProjectVersionArn": arn})
    target = url_for("console.project", arn=project["ProjectArn"])
    kind = "Adapter" if project["Feature"] == "CONTENT_MODERATION" else "Model"
    return done(f"{kind} {arns.of(arn).name} is being deleted.", target)


@blueprint.post("/model/detect")
def detect_labels() -> ResponseReturnValue:
    """Try an image: DetectCustomLabels on the uploaded bytes, shown with the model page."""
    arn = request.form["arn"]
    tried = trial.from_form()
    params = tried.params("ProjectVersionArn", arn)
    labels = api.call(api.scope_of(arn), "DetectCustomLabels", params)["CustomLabels"]
    preview, name = tried.preview(), tried.name
    return _render(arn, {"labels": labels, "preview": preview, "name": name})

"""An adapter (a version of a Custom Moderation project): its status and base model, its
evaluation against the base model at a chosen threshold (false positives and negatives per
category, and the improvement the AWS console reports), its test images with both models'
predictions, "try an image" with DetectModerationLabels, and the code that calls it.

Everything comes from DescribeProjectVersions and the files it points at (the evaluation results
and the test output manifest), read defensively: a file that cannot be read is said so.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue

from fakerek.api.errors import InvalidParameter
from fakerek.api.wire import JsonObject
from fakerek.domain import arns
from fakerek.manifests.lines import parse_source_ref
from fakerek.s3.objects import Objects
from fakerek.web.console import api, evaluation_report, trial
from fakerek.web.console.web import back_to, blueprint, done

TEST_IMAGES = 48  # test images shown at most
MODELS = ("BaseModel", "Adapter")


@dataclass
class Prediction:
    name: str
    confidence: float


@dataclass
class TestImage:
    source_ref: str
    bucket: str
    key: str
    truth: list[str] = field(default_factory=list)
    adapter: list[Prediction] = field(default_factory=list)
    base: list[Prediction] = field(default_factory=list)


def _predictions(found: Any) -> list[Prediction]:
    labels = found.get("ModerationLabels") if isinstance(found, dict) else None
    out = []
    for label in labels if isinstance(labels, list) else []:
        if isinstance(label, dict) and isinstance(label.get("Name"), str):
            confidence = label.get("Confidence")
            if isinstance(confidence, int | float) and not isinstance(confidence, bool):
                out.append(Prediction(label["Name"], float(confidence)))
    return out


def read_test_images(text: str) -> list[TestImage]:
    """The test output manifest's images (lines it cannot read are skipped)."""
    out = []
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        location = evaluation_report.s3_location(
            {"S3Object": _s3_object(record.get("source-ref"))} if isinstance(record, dict) else None
        )
        if location is None:
            continue
        truth = record.get("content-moderation-groundtruth")
        names = truth.get("ModerationLabels") if isinstance(truth, dict) else None
        out.append(
            TestImage(
                record["source-ref"],
                *location,
                truth=[
                    n["Name"]
                    for n in (names if isinstance(names, list) else [])
                    if isinstance(n, dict) and isinstance(n.get("Name"), str)
                ],
                adapter=_predictions(record.get("detect-moderation-labels")),
                base=_predictions(record.get("detect-moderation-labels-base-model")),
            )
        )
    return out


def _s3_object(source_ref: Any) -> dict[str, str] | None:
    parsed = parse_source_ref(source_ref)
    return {"Bucket": parsed[0], "Name": parsed[1]} if parsed else None


def improvement(base: int, adapter: int) -> float | None:
    """How much fewer errors the adapter makes than the base model, in percent (the console's
    "false positive improvement"); None when the base model made none."""
    return 100 * (base - adapter) / base if base else None


def at_threshold(evaluation: JsonObject, wanted: float | None) -> JsonObject | None:
    """The evaluation's results at the threshold asked for (its input threshold by default)."""
    moderation = evaluation.get("ContentModeration") or {}
    given = moderation.get("InputConfidenceThresholdEvalResults")
    if wanted is None:
        return given if isinstance(given, dict) else None
    for result in [given, *(moderation.get("AllConfidenceThresholdsEvalResults") or [])]:
        if isinstance(result, dict) and result.get("ConfidenceThreshold") == wanted:
            return result
    return None


def thresholds(evaluation: JsonObject) -> list[float]:
    moderation = evaluation.get("ContentModeration") or {}
    found = {
        result.get("ConfidenceThreshold")
        for result in [
            moderation.get("InputConfidenceThresholdEvalResults"),
            *(moderation.get("AllConfidenceThresholdsEvalResults") or []),
        ]
        if isinstance(result, dict)
    }
    return sorted(t for t in found if isinstance(t, int | float))


def _evaluation(description: JsonObject) -> JsonObject:
    objects = api.objects(api.scope_of(description["ProjectVersionArn"]))
    out: JsonObject = {"document": None, "images": None, "problems": []}
    where = evaluation_report.s3_location(
        (description.get("EvaluationResult") or {}).get("Summary")
    )
    if where is not None:
        try:
            out["document"] = _document(objects, where)
        except evaluation_report.Unreadable as error:
            out["problems"].append(f"The evaluation results cannot be read: {error}")
    where = evaluation_report.s3_location(
        (description.get("TestingDataResult") or {}).get("Output")
    )
    if where is not None and out["document"] is not None:
        try:
            out["images"] = read_test_images(evaluation_report.read_text(objects, where))
        except evaluation_report.Unreadable as error:
            out["problems"].append(f"The test results cannot be read: {error}")
    return out


def _document(objects: Objects, location: tuple[str, str]) -> JsonObject:
    """The evaluation results file: a JSON object with ContentModeration's results."""
    where = f"s3://{location[0]}/{location[1]}"
    try:
        found = json.loads(evaluation_report.read_text(objects, location))
    except ValueError:
        raise evaluation_report.Unreadable(f"{where} is not JSON") from None
    if not isinstance(found, dict) or not isinstance(found.get("ContentModeration"), dict):
        raise evaluation_report.Unreadable(f"{where} holds no Custom Moderation evaluation")
    return found


def _wanted_threshold() -> float | None:
    try:
        value = float(request.args.get("threshold", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def render(
    arn: str,
    project: JsonObject,
    adapter: JsonObject,
    detection: JsonObject | None = None,
) -> ResponseReturnValue:
    scope = api.scope_of(arn)
    found = _evaluation(adapter)
    document = found["document"] or {}
    chosen = at_threshold(document, _wanted_threshold()) or at_threshold(document, None)
    threshold = (chosen or {}).get("ConfidenceThreshold")
    rows = []
    for result in (chosen or {}).get("LabelEvaluationResults") or []:
        base, own = result.get("BaseModel") or {}, result.get("Adapter") or {}
        rows.append({"label": result.get("Label"), "base": base, "adapter": own})
    totals = (chosen or {}).get("AggregatedEvaluationResults") or {}
    base, own = totals.get("BaseModel") or {}, totals.get("Adapter") or {}
    images = found["images"]
    return render_template(
        "console/adapter.html",
        scope=scope,
        arn=arn,
        name=arns.of(arn).name,
        project=project,
        project_name=project["ProjectArn"].split("/")[1],
        adapter=adapter,
        document=document,
        threshold=threshold,
        thresholds=thresholds(document),
        rows=rows,
        totals={"base": base, "adapter": own},
        improvements={
            "fp": improvement(base.get("FalsePositive", 0), own.get("FalsePositive", 0)),
            "fn": improvement(base.get("FalseNegative", 0), own.get("FalseNegative", 0)),
        },
        images=images[:TEST_IMAGES] if images is not None else None,
        image_count=len(images) if images is not None else 0,
        problems=found["problems"],
        detection=detection,
        default_confidence=_feature_threshold(adapter),
        endpoint=request.host_url.rstrip("/"),
        access_key=scope.account if scope.account != api.default_scope().account else "testing",
        here=url_for("console.model", arn=arn),
    )


def _feature_threshold(adapter: JsonObject) -> float | None:
    found = ((adapter.get("FeatureConfig") or {}).get("ContentModeration") or {}).get(
        "ConfidenceThreshold"
    )
    return float(found) if isinstance(found, int | float) else None


@blueprint.post("/adapters")
def train_adapter() -> ResponseReturnValue:
    arn = request.form["project"]
    params: JsonObject = {
        "ProjectArn": arn,
        "VersionName": request.form.get("name", "").strip(),
        "OutputConfig": {
            "S3Bucket": request.form.get("bucket", "").strip(),
            "S3KeyPrefix": request.form.get("prefix", "").strip(),
        },
        "TrainingData": _assets("training", request.form.get("training", "")),
    }
    testing = request.form.get("testing", "").strip()
    params["TestingData"] = _assets("test", testing) if testing else {"AutoCreate": True}
    threshold = request.form.get("threshold", "").strip()
    if threshold:
        confidence = trial.number(threshold, "The confidence is a number from 0 to 100.")
        params["FeatureConfig"] = {"ContentModeration": {"ConfidenceThreshold": confidence}}
    if request.form.get("description", "").strip():
        params["VersionDescription"] = request.form["description"].strip()
    version = api.call(api.scope_of(arn), "CreateProjectVersion", params)["ProjectVersionArn"]
    target = back_to(url_for("console.project", arn=arn))
    return done(f"Training of adapter {arns.of(version).name} started.", target)


def _assets(what: str, location: str) -> JsonObject:
    s3 = _s3_object(location.strip().replace("S3://", "s3://", 1))
    if s3 is None:
        raise InvalidParameter(f"The {what} manifest is an S3 URI: s3://bucket/path.manifest.")
    return {"Assets": [{"GroundTruthManifest": {"S3Object": s3}}]}


@blueprint.post("/adapter/detect")
def detect_moderation_labels() -> ResponseReturnValue:
    """Try an image: DetectModerationLabels with the adapter, shown with the adapter page."""
    arn = request.form["arn"]
    tried = trial.from_form()
    answer = api.call(
        api.scope_of(arn), "DetectModerationLabels", tried.params("ProjectVersion", arn)
    )
    preview, name = tried.preview(), tried.name
    project = api.project_of(arn)
    described = api.call(
        api.scope_of(arn),
        "DescribeProjectVersions",
        {"ProjectArn": project["ProjectArn"], "VersionNames": [arns.of(arn).name]},
    )["ProjectVersionDescriptions"]
    if not described:
        return done("The adapter is gone.", url_for("console.project", arn=project["ProjectArn"]))
    return render(arn, project, described[0], {"answer": answer, "preview": preview, "name": name})

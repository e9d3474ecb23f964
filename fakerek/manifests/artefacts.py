"""The files a training leaves in its OutputConfig, in AWS's formats (manifests.md §2.7,
training-and-inference.md §3): where each goes, the evaluation summary, and the training and
testing snapshots. No model code here: callers hand over labels, scores and outcomes.

What belongs to the version rather than to its data (its ARN, the time a file is written) is
left as a marker in the texts the functions below return, and filled in by `Outputs.render` as
each file is written: the same data gives the same templates, which the model cache keeps.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any, Literal

from fakerek.domain.clock import wall_ms
from fakerek.manifests.lines import Line, render
from fakerek.s3.objects import ObjectError, Objects

CONTENT_TYPE = "application/json"

# Each artefact of a training (by its key in a version's results) and the name AWS gives its
# file: `<name>-<project>-<version>.json`, directly under the prefix (DescribeProjectVersions
# example of the SDK documentation).
ARTEFACT_NAMES = {
    "ManifestSummary": "ManifestSummary",
    "TrainingValidation": "TrainingManifestWithValidation",
    "TestingValidation": "TestingManifestWithValidation",
    "TrainingOutput": "TrainingGroundTruth",
    "TestingOutput": "TestingGroundTruth",
}

# Markers of the version's ARN and of the time now. A JSON encoder writes their NUL characters
# as "\u0000" escapes, so no other string of a file's text renders the same.
VERSION_ARN = "\x00version-arn\x00"
NOW = "\x00now\x00"

Outcome = Literal["TP", "TN", "FP", "FN"]
Box = tuple[str, float, Any]  # label, confidence (0-1), (x1, y1, x2, y2) ratios


class OutputNotWritable(Exception):
    """The OutputConfig bucket refused an artefact."""


class Outputs:
    """Where a training writes, under OutputConfig (bucket + prefix without its trailing '/');
    `version_arn` and the time `now_ms` reads (the server's clock) fill the templates `render`
    writes."""

    def __init__(
        self,
        objects: Objects,
        request: dict[str, Any],
        project: str,
        version: str,
        version_arn: str = "",
        now_ms: Callable[[], int] = wall_ms,
    ):
        config = request["OutputConfig"]
        self.objects = objects
        self.bucket = config["S3Bucket"]
        prefix = config.get("S3KeyPrefix", "").rstrip("/")
        self.base = f"{prefix}/" if prefix else ""
        self.suffix = f"{project}-{version}.json"
        self.summary_key = f"{self.base}EvaluationResultSummary-{self.suffix}"
        self.version_arn = version_arn
        self.now_ms = now_ms
        self.templates: dict[str, str] = {}  # what `render` wrote, by key, in order

    def key(self, artefact: str) -> str:
        """The key of one artefact (a key of ARTEFACT_NAMES)."""
        return f"{self.base}{ARTEFACT_NAMES[artefact]}-{self.suffix}"

    def stem(self, key: str) -> str:
        """A key of this version's without what names the version (the prefix, the project and
        the version): `ManifestSummary-` for `out/ManifestSummary-p-v1.json`."""
        if not (key.startswith(self.base) and key.endswith(self.suffix)):
            raise ValueError(f"{key} is not one of this version's keys")
        return key[len(self.base) : len(key) - len(self.suffix)]

    def key_of(self, stem: str) -> str:
        return f"{self.base}{stem}{self.suffix}"

    def render(self, key: str, template: str) -> dict[str, Any]:
        """Write a training's artefact from its template, the version's ARN and the time now
        filled in; its location as DescribeProjectVersions gives it."""
        body = template.replace(json.dumps(VERSION_ARN), json.dumps(self.version_arn)).replace(
            json.dumps(NOW), json.dumps(_moment(self.now_ms()))
        )
        location = self.put(key, body)
        self.templates[key] = template
        return location

    def named(self, name: str, extension: str) -> str:
        """The key of a file `<name>-<project>-<version>.<extension>` under the prefix."""
        return f"{self.base}{name}-{self.suffix.removesuffix('.json')}.{extension}"

    def put(self, key: str, body: str) -> dict[str, Any]:
        """Write one artefact; its location as DescribeProjectVersions gives it."""
        try:
            self.objects.put(self.bucket, key, body.encode("utf-8"), CONTENT_TYPE)
        except ObjectError as error:
            raise OutputNotWritable(str(error)) from None
        return {"S3Object": {"Bucket": self.bucket, "Name": key}}


def recorded(found: object) -> dict[str, Any]:
    """What a version's record says its training produced (`results`), keeping only the entries
    of the shapes training writes: an artefact's location, `EvaluationResult` (F1 and the
    summary's location), `BillableTrainingTimeInSeconds`. A record an older fakerek, a crash or
    a hand left partial or damaged still describes its version: what cannot be read counts as
    absent."""
    if not isinstance(found, dict):
        return {}
    out: dict[str, Any] = {
        key: found[key] for key in ARTEFACT_NAMES if _is_location(found.get(key))
    }
    evaluation = found.get("EvaluationResult")
    if (
        isinstance(evaluation, dict)
        and _is_number(evaluation.get("F1Score"))
        and _is_location(evaluation.get("Summary"))
    ):
        out["EvaluationResult"] = {
            "F1Score": evaluation["F1Score"],
            "Summary": evaluation["Summary"],
        }
    billed = found.get("BillableTrainingTimeInSeconds")
    if isinstance(billed, int) and not isinstance(billed, bool) and billed >= 0:
        out["BillableTrainingTimeInSeconds"] = billed
    return out


def _is_location(value: Any) -> bool:
    s3 = value.get("S3Object") if isinstance(value, dict) else None
    return (
        isinstance(s3, dict)
        and isinstance(s3.get("Bucket"), str)
        and isinstance(s3.get("Name"), str)
        and isinstance(s3.get("Version", ""), str)
        and set(s3) <= {"Bucket", "Name", "Version"}
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1


def asset(location: dict[str, Any]) -> dict[str, Any]:
    """A location as an `Assets` list (TrainingDataResult, TestingDataResult)."""
    return {"Assets": [{"GroundTruthManifest": location}]}


def _moment(epoch_ms: int) -> str:
    return dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def summary(
    labels: list[str],
    per_label: Sequence[Any],
    aggregated: dict[str, Any],
    tested: int,
    trained: int,
) -> str:
    """The evaluation summary's template (EvaluationResultSummary-<p>-<v>.json); `per_label`
    items have label, test_images, threshold, precision, recall and f1."""
    return json.dumps(
        {
            "Version": 1,
            "AggregatedEvaluationResults": aggregated,
            "EvaluationDetails": {
                "EvaluationEndTimestamp": NOW,
                "Labels": labels,
                "NumberOfTestingImages": tested,
                "NumberOfTrainingImages": trained,
                "ProjectVersionArn": VERSION_ARN,
            },
            "LabelEvaluationResults": [
                {
                    "Label": r.label,
                    "NumberOfTestingImages": r.test_images,
                    "Metrics": {
                        "Threshold": r.threshold,
                        "Precision": r.precision,
                        "Recall": r.recall,
                        "F1Score": r.f1,
                    },
                }
                for r in per_label
            ],
        },
        indent=1,
    )


def details(outcome: str) -> dict[str, Any]:
    """The evaluation block of one evaluated label or box; `outcome` is TP, TN, FP or FN."""
    return {
        "version": 1,
        "ground-truth-labelling-jobs": ["rekognition-custom-labels-training-job"],
        "is-true-positive": outcome == "TP",
        "is-true-negative": outcome == "TN",
        "is-false-positive": outcome == "FP",
        "is-false-negative": outcome == "FN",
        "is-present-in-ground-truth": outcome in ("TP", "FN"),
    }


def training_snapshot(lines: list[Line]) -> str:
    """The training images as trained on (TrainingGroundTruth-<p>-<v>.json)."""
    return "".join(
        json.dumps(
            {**render(line, "errors", None), "rekognition-custom-labels-object-id": number},
            ensure_ascii=False,
        )
        + "\n"
        for number, line in enumerate(lines, 1)
    )


def box_snapshot(
    lines: list[Line],
    labels: list[str],
    truth: list[list[tuple[str, Any]]],
    evaluated: list[list[tuple[str, Box]]],
) -> str:
    """Test images with their true boxes and the evaluated boxes, in pixels: each true box once
    (TP or FN), then the unmatched boxes above their threshold (FP)."""
    classes = {label: i for i, label in enumerate(labels)}
    class_map = {str(i): label for label, i in classes.items()}
    out = []
    for number, (line, true_boxes, boxes) in enumerate(
        zip(lines, truth, evaluated, strict=True), 1
    ):
        width, height = next(
            a.image_size for a in line.attributes if a.kind == "box" and a.image_size
        )

        def pixels(box: Any, width: int = width, height: int = height) -> dict[str, float]:
            return {
                "left": round(float(box[0]) * width, 1),
                "top": round(float(box[1]) * height, 1),
                "width": round(float(box[2] - box[0]) * width, 1),
                "height": round(float(box[3] - box[1]) * height, 1),
            }

        image_size = [{"width": width, "height": height, "depth": 3}]
        record = {
            "source-ref": line.source_ref,
            "rekognition-custom-labels-object-id": number,
            "rekognition-custom-labels-training-0": {
                "image_size": image_size,
                "annotations": [
                    {**pixels(box), "class_id": classes[label]} for label, box in true_boxes
                ],
            },
            "rekognition-custom-labels-training-0-metadata": {
                "objects": [{"confidence": 1} for _ in true_boxes],
                "class-map": class_map,
                "type": "groundtruth/object-detection",
                "human-annotated": "yes",
                "creation-date": NOW,
                "job-name": "rekognition-custom-labels-training-job",
            },
            "rekognition-custom-labels-evaluation": {
                "image_size": image_size,
                "annotations": [
                    {**pixels(box), "class_id": classes[label]} for _, (label, _, box) in boxes
                ],
            },
            "rekognition-custom-labels-evaluation-metadata": {
                "objects": [
                    {
                        "confidence": score,
                        "rekognition-custom-labels-evaluation-details": details(o),
                    }
                    for o, (_, score, _) in boxes
                ],
                "class-map": class_map,
                "type": "groundtruth/object-detection",
                "human-annotated": "no",
                "creation-date": NOW,
                "job-name": "rekognition-custom-labels-evaluation-job",
            },
        }
        out.append(json.dumps(record, ensure_ascii=False) + "\n")
    return "".join(out)


def label_snapshot(
    lines: list[Line],
    labels: list[str],
    thresholds: dict[str, float],
    scores: Sequence[Sequence[float]],
    truth: Sequence[Sequence[bool]],
) -> str:
    """The test images with their ground truth and the model's confidence for every label;
    `scores` rows cover the model's labels, which come first in `labels`: the others, test
    labels the model never learned, get confidence 0."""
    out = []
    for row, line in enumerate(lines):
        record: dict[str, Any] = {
            "source-ref": line.source_ref,
            "rekognition-custom-labels-object-id": row + 1,
        }
        for k, label in enumerate(sorted(line.image_labels())):
            record[f"rekognition-custom-labels-training-{k}"] = labels.index(label)
            record[f"rekognition-custom-labels-training-{k}-metadata"] = {
                "confidence": 1.0,
                "job-name": "rekognition-custom-labels-training-job",
                "class-name": label,
                "human-annotated": "yes",
                "creation-date": NOW,
                "type": "groundtruth/image-classification",
            }
        for k, label in enumerate(labels):
            confidence = float(scores[row][k]) if k < len(scores[row]) else 0.0
            present, positive = bool(truth[row][k]), confidence >= thresholds[label]
            outcome: Outcome = (
                ("TP" if present else "FP") if positive else ("FN" if present else "TN")
            )
            record[f"rekognition-custom-labels-evaluation-{k}"] = k
            record[f"rekognition-custom-labels-evaluation-{k}-metadata"] = {
                "confidence": confidence,
                "job-name": "rekognition-custom-labels-evaluation-job",
                "class-name": label,
                "human-annotated": "no",
                "creation-date": NOW,
                "type": "groundtruth/image-classification",
                "rekognition-custom-labels-evaluation-details": details(outcome),
            }
        out.append(json.dumps(record, ensure_ascii=False) + "\n")
    return "".join(out)

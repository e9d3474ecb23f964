"""One training, from CreateProjectVersion's request to TRAINING_COMPLETED or TRAINING_FAILED.

Runs in the background (`jobs`). Order (training-and-inference.md §1.3, manifests.md §2.8): file
checks → line and content validation (artefacts written whatever the outcome) → training →
evaluation on the test set → evaluation summary and snapshots → the model's files. Every failure
ends the version with `"<CODE>: <message>"`, or the service-issue message for anything else.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from fakerek import lifecycle
from fakerek.manifests import images, training
from fakerek.manifests.codes import status_message
from fakerek.manifests.importer import ImportFailed, ImportLimits
from fakerek.manifests.lines import Line, render
from fakerek.ml import classifier, detector, evaluation, features
from fakerek.objects import ObjectError, Objects
from fakerek.store import datasets, versions
from fakerek.store.db import Store

log = logging.getLogger("fakerek.training")
CONTENT_TYPE = "application/json"


class TrainingFailed(Exception):
    """Ends the training with a failure code, or (`code` None) a service error; `detail` goes
    to the log only."""

    def __init__(self, code: str | None, detail: str = ""):
        super().__init__(code or detail)
        self.code = code

    @property
    def status_message(self) -> str:
        return status_message(self.code) if self.code else lifecycle.SERVICE_ISSUE


@dataclass(frozen=True)
class Options:
    denied: frozenset[str]
    limits: ImportLimits
    fault: str | None = None  # an injected failure code, or SERVICE_ERROR


def model_folder(store: Store, version_id: int) -> str:
    return os.path.join(store.data_dir, "models", str(version_id))


def remove_model(store: Store, version_id: int) -> None:
    shutil.rmtree(model_folder(store, version_id), ignore_errors=True)


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


class Outputs:
    """Where a training writes, under OutputConfig (bucket + prefix without its trailing '/')."""

    def __init__(self, objects: Objects, request: dict[str, Any], project: str, version: str):
        config = request["OutputConfig"]
        self.objects = objects
        self.bucket = config["S3Bucket"]
        prefix = config.get("S3KeyPrefix", "").rstrip("/")
        self.base = f"{prefix}/" if prefix else ""
        self.suffix = f"{project}-{version}.json"
        self.summary_key = f"{self.base}EvaluationResultSummary-{self.suffix}"

    def key(self, artefact: str) -> str:
        """The key of one artefact (a key of ARTEFACT_NAMES)."""
        return f"{self.base}{ARTEFACT_NAMES[artefact]}-{self.suffix}"

    def put(self, key: str, body: str) -> dict[str, Any]:
        try:
            self.objects.put(self.bucket, key, body.encode("utf-8"), CONTENT_TYPE)
        except ObjectError:
            raise TrainingFailed("ERROR_CANNOT_WRITE_OUTPUT_S3_BUCKET") from None
        return {"S3Object": {"Bucket": self.bucket, "Name": key}}


def asset(location: dict[str, Any]) -> dict[str, Any]:
    return {"Assets": [{"GroundTruthManifest": location}]}


def run(store: Store, objects: Objects, version_id: int, options: Options) -> None:
    with store.read() as conn:
        row = versions.by_id(conn, version_id)
    if row is None:
        return
    request = json.loads(row["request"])
    results: dict[str, Any] = {}
    started = time.monotonic()
    try:
        _train(store, objects, row, request, options, results)
        outcome, status_message = "COMPLETED", None
        results["BillableTrainingTimeInSeconds"] = max(
            1, round(time.time() - row["created_ms"] / 1000)
        )
    except TrainingFailed as failure:
        outcome, status_message = "FAILED", failure.status_message
        log.info("training of %s failed: %s (%s)", row["arn"], status_message, failure)
    except Exception:
        log.exception("training of %s failed", row["arn"])
        outcome, status_message = "FAILED", lifecycle.SERVICE_ISSUE
        for key in ("TrainingValidation", "TestingValidation", "ManifestSummary"):
            results.pop(key, None)  # a late service error hides the validation locations
    if outcome == "FAILED":
        remove_model(store, version_id)
    with store.write() as tx:
        versions.finish(tx, version_id, outcome, lifecycle.now_ms(), status_message, results)
    log.info(
        "training of %s ended %s after %.1f s", row["arn"], outcome, time.monotonic() - started
    )


def _train(
    store: Store,
    objects: Objects,
    row: Any,
    request: dict[str, Any],
    options: Options,
    results: dict[str, Any],
) -> None:
    if options.fault == "SERVICE_ERROR":
        raise TrainingFailed(None, "injected service error")
    if options.fault:
        raise TrainingFailed(options.fault)
    outputs = Outputs(objects, request, row["project_name"], row["name"])
    try:
        training.check_output_bucket(objects, outputs.bucket)
        train_texts, test_texts = _inputs(store, objects, row, request, options)
    except ImportFailed as failure:
        raise TrainingFailed(failure.code) from None

    def fetch(bucket: str, key: str) -> bytes | None:
        try:
            return objects.read(bucket, key, limit=images.ImageLimits().max_bytes + 1)
        except ObjectError:
            return None

    limits = training.TrainingLimits(
        max_labels=options.limits.max_labels,
        invalid_row_threshold=options.limits.invalid_row_threshold,
        line=options.limits.line,
    )
    checked = training.validate(
        train_texts, test_texts, fetch=fetch, denied=options.denied, limits=limits
    )
    results["ManifestSummary"] = outputs.put(
        outputs.key("ManifestSummary"), json.dumps(checked.summary(), indent=1)
    )
    results["TrainingValidation"] = outputs.put(
        outputs.key("TrainingValidation"),
        checked.training.validation_manifest(),
    )
    results["TestingValidation"] = outputs.put(
        outputs.key("TestingValidation"), checked.testing.validation_manifest()
    )
    if checked.first_error:
        raise TrainingFailed(checked.first_error)
    if checked.training.use_case == training.OBJECT_LOCALIZATION:
        _train_detector(store, row, checked, fetch, outputs, results)
    else:
        _train_classifier(store, row, checked, fetch, outputs, results)


def _inputs(
    store: Store, objects: Objects, row: Any, request: dict[str, Any], options: Options
) -> tuple[list[str], list[str] | None]:
    """Training and test lines: external manifests, or the project's datasets."""
    if "TrainingData" in request:

        def read(location: dict[str, Any]) -> list[str]:
            s3 = location["GroundTruthManifest"]["S3Object"]
            return training.read_manifest(
                objects, s3["Bucket"], s3["Name"], s3.get("Version"), options.limits
            )

        train = read(request["TrainingData"]["Assets"][0])
        testing = request["TestingData"]
        test = read(testing["Assets"][0]) if testing.get("Assets") else None
        return train, test
    with store.read() as conn:
        found = {
            d["type"]: d for d in datasets.of_projects(conn, [row["project_id"]], row["created_ms"])
        }
        train = [e["entry"] for e in datasets.all_entries(conn, found["TRAIN"]["id"])]
        test = (
            [e["entry"] for e in datasets.all_entries(conn, found["TEST"]["id"])]
            if "TEST" in found
            else None
        )
    if not train:
        raise ImportFailed("ERROR_EMPTY_MANIFEST")
    return train, test


def _image_labels(line: Line) -> set[str]:
    return line.image_labels()


def _loader(fetch: Any) -> Any:
    def load(line: Line) -> bytes:
        data = fetch(line.bucket, line.key)
        if data is None:
            raise TrainingFailed(None, f"image {line.source_ref} disappeared during training")
        return data

    return load


def _summary(
    row: Any,
    labels: list[str],
    per_label: list[Any],
    aggregated: dict[str, Any],
    tested: int,
    trained: int,
) -> dict[str, Any]:
    return {
        "Version": 1,
        "AggregatedEvaluationResults": aggregated,
        "EvaluationDetails": {
            "EvaluationEndTimestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"),
            "Labels": labels,
            "NumberOfTestingImages": tested,
            "NumberOfTrainingImages": trained,
            "ProjectVersionArn": row["arn"],
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
    }


def _train_detector(
    store: Store,
    row: Any,
    checked: training.Validation,
    fetch: Any,
    outputs: Outputs,
    results: dict[str, Any],
) -> None:
    load = _loader(fetch)
    whole = (0.0, 0.0, 1.0, 1.0)
    examples = []
    for line in checked.training.usable:
        boxes = line.boxes() or [(label, whole) for label in sorted(line.image_labels())]
        examples.append(
            detector.BoxExample(
                load(line),
                np.array([b for _, b in boxes], np.float32),
                [label for label, _ in boxes],
            )
        )
    model = detector.train(examples)
    test_lines = checked.testing.usable
    truth = [
        [(label, np.array(box, np.float32)) for label, box in line.boxes()] for line in test_lines
    ]
    raw = [  # the model is not calibrated yet: its scores are the raw ones
        [(d.label, d.score, d.box) for d in model.detect(load(line), features.TRAINING_THREADS)]
        for line in test_lines
    ]
    hits = [evaluation.match_boxes(p, t) for p, t in zip(raw, truth, strict=True)]
    model.calibrate(
        np.array([score for found in raw for _, score, _ in found]),
        np.array([hit for image in hits for hit in image], bool),
    )
    predicted = [
        [(label, model.confidence(score), box) for label, score, box in found] for found in raw
    ]
    scored = evaluation.evaluate_boxes(model.labels, predicted, truth)
    model.thresholds = {r.label: r.threshold for r in scored.results}
    totals = evaluation.aggregate(scored.results)
    aggregated = {
        **totals,
        "AveragePrecision": scored.average_precision,
        "AverageRecall": scored.average_recall,
    }
    summary = _summary(
        row, model.labels, scored.results, aggregated, len(test_lines), len(examples)
    )
    location = outputs.put(outputs.summary_key, json.dumps(summary, indent=1))
    results["EvaluationResult"] = {"F1Score": totals["F1Score"], "Summary": location}
    results["TrainingOutput"] = outputs.put(
        outputs.key("TrainingOutput"), _snapshot(checked.training.usable)
    )
    results["TestingOutput"] = outputs.put(
        outputs.key("TestingOutput"), _box_snapshot(test_lines, model, predicted, truth)
    )
    model.save(model_folder(store, row["id"]))


def _details(outcome: str) -> dict[str, Any]:
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


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


Box = tuple[str, float, np.ndarray]  # label, confidence (0-1), (x1, y1, x2, y2) ratios


def evaluated_boxes(
    found: list[Box], truth: list[tuple[str, np.ndarray]], thresholds: dict[str, float]
) -> list[tuple[str, Box]]:
    """The boxes of one test image that the evaluation counts, with their outcome: each true box
    once, TP (the above-threshold box that matched it) or FN (the best box below the threshold
    that reached it, else the true box with confidence 0), then the unmatched boxes above their
    label's threshold, FP. So per label TP + FN = the true boxes, as AWS's snapshot reads."""
    positive = [score >= thresholds.get(label, 0.5) for label, score, _ in found]
    matches = evaluation.assign_boxes(found, truth)
    by_truth = {match: k for k, match in enumerate(matches) if match >= 0}
    out = []
    for index, (label, box) in enumerate(truth):
        k = by_truth.get(index)
        if k is None:
            out.append(("FN", (label, 0.0, box)))
        else:
            out.append(("TP" if positive[k] else "FN", found[k]))
    out += [
        ("FP", box)
        for box, ok, match in zip(found, positive, matches, strict=True)
        if ok and match < 0
    ]
    return out


def _box_snapshot(
    lines: list[Line], model: Any, predicted: list[list[Box]], truth: list[list[Any]]
) -> str:
    """Test images with their true boxes and the evaluated boxes, in pixels (§2.7, issue 12)."""
    now = _now()
    classes = {label: i for i, label in enumerate(model.labels)}
    class_map = {str(i): label for label, i in classes.items()}
    out = []
    for number, (line, found, true_boxes) in enumerate(
        zip(lines, predicted, truth, strict=True), 1
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
        evaluated = evaluated_boxes(found, true_boxes, model.thresholds)
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
                "creation-date": now,
                "job-name": "rekognition-custom-labels-training-job",
            },
            "rekognition-custom-labels-evaluation": {
                "image_size": image_size,
                "annotations": [
                    {**pixels(box), "class_id": classes[label]} for _, (label, _, box) in evaluated
                ],
            },
            "rekognition-custom-labels-evaluation-metadata": {
                "objects": [
                    {
                        "confidence": score,
                        "rekognition-custom-labels-evaluation-details": _details(outcome),
                    }
                    for outcome, (_, score, _) in evaluated
                ],
                "class-map": class_map,
                "type": "groundtruth/object-detection",
                "human-annotated": "no",
                "creation-date": now,
                "job-name": "rekognition-custom-labels-evaluation-job",
            },
        }
        out.append(json.dumps(record, ensure_ascii=False) + "\n")
    return "".join(out)


def _train_classifier(
    store: Store,
    row: Any,
    checked: training.Validation,
    fetch: Any,
    outputs: Outputs,
    results: dict[str, Any],
) -> None:
    load = _loader(fetch)
    train_lines, test_lines = checked.training.usable, checked.testing.usable
    loaded = {id(line): line for line in train_lines}
    model = classifier.train(
        [classifier.Example(str(id(line)), _image_labels(line)) for line in train_lines],
        lambda ref: load(loaded[int(ref)]),
    )
    truth = np.array(
        [[label in _image_labels(line) for label in model.labels] for line in test_lines],
        dtype=bool,
    ).reshape(len(test_lines), len(model.labels))
    embedded = model.embed([load(line) for line in test_lines], features.TRAINING_THREADS)
    model.calibrate(embedded, truth)
    scores = model.scores_of(embedded)
    per_label = evaluation.evaluate(model.labels, scores, truth)
    model.thresholds = {r.label: r.threshold for r in per_label}
    totals = evaluation.aggregate(per_label)
    aggregated = {
        **totals,
        "ConfusionMatrix": evaluation.confusion_matrix(model.labels, scores, truth),
    }
    summary = _summary(row, model.labels, per_label, aggregated, len(test_lines), len(train_lines))
    location = outputs.put(outputs.summary_key, json.dumps(summary, indent=1))
    results["EvaluationResult"] = {"F1Score": totals["F1Score"], "Summary": location}
    results["TrainingOutput"] = outputs.put(outputs.key("TrainingOutput"), _snapshot(train_lines))
    results["TestingOutput"] = outputs.put(
        outputs.key("TestingOutput"),
        _evaluation_snapshot(test_lines, model, scores, truth),
    )
    model.save(model_folder(store, row["id"]))


def _snapshot(lines: list[Line]) -> str:
    return "".join(
        json.dumps(
            {**render(line, "errors", None), "rekognition-custom-labels-object-id": number},
            ensure_ascii=False,
        )
        + "\n"
        for number, line in enumerate(lines, 1)
    )


def _evaluation_snapshot(
    lines: list[Line], model: Any, scores: np.ndarray, truth: np.ndarray
) -> str:
    """The test images with their ground truth and the model's scores (§2.7)."""
    now = _now()
    out = []
    for row_index, line in enumerate(lines):
        record: dict[str, Any] = {
            "source-ref": line.source_ref,
            "rekognition-custom-labels-object-id": row_index + 1,
        }
        for k, label in enumerate(sorted(_image_labels(line))):
            record[f"rekognition-custom-labels-training-{k}"] = model.labels.index(label)
            record[f"rekognition-custom-labels-training-{k}-metadata"] = {
                "confidence": 1.0,
                "job-name": "rekognition-custom-labels-training-job",
                "class-name": label,
                "human-annotated": "yes",
                "creation-date": now,
                "type": "groundtruth/image-classification",
            }
        for k, label in enumerate(model.labels):
            confidence = float(scores[row_index, k])
            present, positive = bool(truth[row_index, k]), confidence >= model.thresholds[label]
            outcome = ("TP" if present else "FP") if positive else ("FN" if present else "TN")
            record[f"rekognition-custom-labels-evaluation-{k}"] = k
            record[f"rekognition-custom-labels-evaluation-{k}-metadata"] = {
                "confidence": confidence,
                "job-name": "rekognition-custom-labels-evaluation-job",
                "class-name": label,
                "human-annotated": "no",
                "creation-date": now,
                "type": "groundtruth/image-classification",
                "rekognition-custom-labels-evaluation-details": _details(outcome),
            }
        out.append(json.dumps(record, ensure_ascii=False) + "\n")
    return "".join(out)

"""A model's evaluation as the console shows it, read from the files the model points at.

The summary is `EvaluationResult.Summary` and the test results `TestingDataResult.Output` of
DescribeProjectVersions: never a key built here, so renamed files are followed. The test
results manifest is read defensively: whichever attributes carry
`rekognition-custom-labels-evaluation-details` (on a label's metadata, or on each box's object)
are predictions, the other label attributes are the ground truth; a flag that is absent counts
as false.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from fakerek.api.wire import JsonObject
from fakerek.manifests.lines import IMAGE_LEVEL, OBJECT_DETECTION, parse_source_ref
from fakerek.s3.objects import ObjectError, Objects

DETAILS = "rekognition-custom-labels-evaluation-details"
OUTCOMES = {
    "is-true-positive": "true positive",
    "is-false-positive": "false positive",
    "is-false-negative": "false negative",
}


class Unreadable(Exception):
    """An evaluation file cannot be read or parsed; the message says which and why."""


def s3_location(location: Any) -> tuple[str, str] | None:
    """(bucket, key) of `{"S3Object": {...}}` or of an asset list holding one."""
    if isinstance(location, dict) and "Assets" in location:
        assets = location.get("Assets") or [{}]
        location = (assets[0] or {}).get("GroundTruthManifest")
    s3 = (location or {}).get("S3Object") if isinstance(location, dict) else None
    if not isinstance(s3, dict) or not s3.get("Bucket") or not s3.get("Name"):
        return None
    return s3["Bucket"], s3["Name"]


def read_text(objects: Objects, location: tuple[str, str]) -> str:
    try:
        return objects.read(*location).decode("utf-8")
    except (ObjectError, UnicodeDecodeError) as error:
        raise Unreadable(f"s3://{location[0]}/{location[1]}: {error}") from None


def summary(objects: Objects, location: tuple[str, str]) -> JsonObject:
    try:
        found = json.loads(read_text(objects, location))
    except ValueError:
        raise Unreadable(f"s3://{location[0]}/{location[1]} is not JSON") from None
    if not isinstance(found, dict):
        raise Unreadable(f"s3://{location[0]}/{location[1]} is not a JSON object")
    sections = {
        name: found[name]
        for name in ("AggregatedEvaluationResults", "EvaluationDetails")
        if isinstance(found.get(name), dict)
    }
    rows = found.get("LabelEvaluationResults")
    if isinstance(rows, list):
        sections["LabelEvaluationResults"] = [row for row in rows if isinstance(row, dict)]
    if not sections:
        raise Unreadable(f"s3://{location[0]}/{location[1]} holds no evaluation results")
    return sections


Ratios = tuple[float, float, float, float]


@dataclass
class Mark:
    """One label (and box, for localisation) of a test image."""

    label: str
    outcome: str | None = None  # a value of OUTCOMES; None: ground truth or true negative
    confidence: float | None = None  # 0-100
    box: Ratios | None = None  # left, top, width, height in ratios


@dataclass
class TestImage:
    source_ref: str
    bucket: str
    key: str
    truth: list[Mark] = field(default_factory=list)
    results: list[Mark] = field(default_factory=list)  # true/false positives, false negatives

    def outcomes(self) -> set[str]:
        return {mark.outcome for mark in self.results if mark.outcome}

    def labels(self) -> set[str]:
        return {m.label for m in self.truth} | {m.label for m in self.results}


def _flag_outcome(details: Any) -> str | None:
    if not isinstance(details, dict):
        return None
    for flag, outcome in OUTCOMES.items():
        if details.get(flag) is True:
            return outcome
    return None


def _details(item: Any) -> Any:
    """Evaluation flags nested under DETAILS, or written on the item itself."""
    if not isinstance(item, dict):
        return None
    nested = item.get(DETAILS)
    if isinstance(nested, dict):
        return nested
    return item if any(flag in item for flag in OUTCOMES) else None


def _percent(value: Any) -> float | None:
    """A manifest confidence (0-1) as the console shows it (0-100)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) * 100
    return None


def _boxes(value: Any, meta: JsonObject) -> list[tuple[str, Ratios, Any]]:
    """(label, box in ratios, the box's object) of an object-detection attribute."""
    if not isinstance(value, dict):
        return []
    sizes = value.get("image_size")
    size: Any = sizes[0] if isinstance(sizes, list) and sizes else sizes
    classes = meta.get("class-map") or {}
    objects = meta.get("objects") or []
    out: list[tuple[str, Ratios, Any]] = []
    try:
        width, height = float(size["width"]), float(size["height"])
        for index, box in enumerate(value.get("annotations") or []):
            label = classes.get(str(box.get("class_id")), str(box.get("class_id")))
            ratios = (
                box["left"] / width,
                box["top"] / height,
                box["width"] / width,
                box["height"] / height,
            )
            out.append((label, ratios, objects[index] if index < len(objects) else {}))
    except (KeyError, TypeError, ValueError, ZeroDivisionError, AttributeError):
        return []
    return out


def _is_prediction(name: str, meta: JsonObject) -> bool:
    """Whether a box attribute holds the model's boxes rather than the ground truth."""
    job = meta.get("job-name")
    return (
        "evaluation" in name
        or (isinstance(job, str) and "evaluation" in job)
        or str(meta.get("human-annotated", "")).lower() == "no"
    )


def test_image(record: JsonObject) -> TestImage:
    """One line of the test results manifest."""
    source_ref = str(record.get("source-ref", ""))
    bucket, key = parse_source_ref(source_ref) or ("", "")
    image = TestImage(source_ref, bucket, key)
    missed: dict[str, float] = {}
    for name, meta in record.items():
        if not name.endswith("-metadata") or not isinstance(meta, dict):
            continue
        if meta.get("type") == IMAGE_LEVEL and isinstance(meta.get("class-name"), str):
            label, details = meta["class-name"], _details(meta)
            if details is None:
                image.truth.append(Mark(label))
            elif outcome := _flag_outcome(details):
                image.results.append(Mark(label, outcome, _percent(meta.get("confidence"))))
        elif meta.get("type") == OBJECT_DETECTION:
            boxes = _boxes(record.get(name.removesuffix("-metadata")), meta)
            predicted = _is_prediction(name, meta)
            for label, ratios, item in boxes:
                outcome = _flag_outcome(_details(item))
                confidence = _percent(item.get("confidence") if isinstance(item, dict) else None)
                if not predicted:
                    image.truth.append(Mark(label, box=ratios))
                    if outcome == OUTCOMES["is-false-negative"]:  # a true box flagged as missed
                        image.results.append(Mark(label, outcome, box=ratios))
                elif outcome == OUTCOMES["is-false-negative"]:
                    missed[label] = max(missed.get(label, 0.0), confidence or 0.0)
                elif outcome:
                    image.results.append(Mark(label, outcome, confidence, ratios))
    # A prediction below its label's threshold, of a label the image has, is flagged a false
    # negative. Shown once per label, without its box, and only while the label has more true
    # boxes than true positives: each true box is either found (a true positive) or missed.
    found = [m.label for m in image.results if m.outcome == OUTCOMES["is-true-positive"]]
    truth = [m.label for m in image.truth]
    image.results += [
        Mark(label, OUTCOMES["is-false-negative"], confidence)
        for label, confidence in missed.items()
        if truth.count(label) > found.count(label)
    ]
    image.results.sort(key=lambda m: (m.outcome or "", -(m.confidence or 0), m.label))
    return image


class TestResults:
    """Parsed test results manifests, kept by content (a few, least recently used first out)."""

    def __init__(self, keep: int = 4):
        self._parsed: OrderedDict[str, list[TestImage]] = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()

    def read(self, objects: Objects, location: tuple[str, str]) -> list[TestImage]:
        text = read_text(objects, location)
        digest = hashlib.sha256(text.encode()).hexdigest()
        with self._lock:
            if digest in self._parsed:
                self._parsed.move_to_end(digest)
                return self._parsed[digest]
        images = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                raise Unreadable(
                    f"s3://{location[0]}/{location[1]} line {number} is not JSON"
                ) from None
            if isinstance(record, dict):
                images.append(test_image(record))
        with self._lock:
            self._parsed[digest] = images
            while len(self._parsed) > self._keep:
                self._parsed.popitem(last=False)
        return images


def confusion(summary: JsonObject) -> tuple[list[str], dict[tuple[str, str], float]] | None:
    """(labels, {(predicted, ground truth): value}) of a classification summary, else None."""
    cells = (summary.get("AggregatedEvaluationResults") or {}).get("ConfusionMatrix")
    if not isinstance(cells, list) or not cells:
        return None
    values: dict[tuple[str, str], float] = {}
    labels: list[str] = list((summary.get("EvaluationDetails") or {}).get("Labels") or [])
    for cell in cells:
        try:
            predicted, truth = str(cell["PredictedLabel"]), str(cell["GroundTruthLabel"])
            values[(predicted, truth)] = float(cell["Value"])
        except (KeyError, TypeError, ValueError):
            continue
        for label in (truth, predicted):
            if label not in labels:
                labels.append(label)
    return labels, values

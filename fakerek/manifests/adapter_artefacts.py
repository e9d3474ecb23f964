"""The files an adapter's training leaves in its OutputConfig (moderation.md §3.2-3.3, D9): the
output manifests of both datasets, the manifest summary and the evaluation results, written from
the answers the caller computed. No model code here.

The evaluation compares the base model and the adapter on the test images, per top-level
category the adapter learnt: true and false positives and negatives at the threshold given in
`FeatureConfig` and at 5, 10, ..., 100 percent; its F1 score is the adapter's micro-averaged F1
at the given threshold (0 when it is undefined).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from fakerek.domain.moderation import PREDICTION_THRESHOLD
from fakerek.domain.taxonomy import Taxonomy
from fakerek.manifests.adapters import AdapterLine

Answer = Mapping[str, float]  # category name → confidence (percent)
THRESHOLDS = tuple(float(t) for t in range(5, 101, 5))
FILES = {  # a training's results key → the file's name under the prefix, and its extension
    "TrainingOutput": ("OutputManifest-train", "manifest"),
    "TestingOutput": ("OutputManifest-test", "manifest"),
    "ManifestSummary": ("ManifestSummary", "json"),
    "EvaluationSummary": ("EvaluationResults", "json"),
}


def _counts(truth: Sequence[bool], found: Sequence[bool]) -> dict[str, int]:
    pairs = list(zip(truth, found, strict=True))
    return {
        "TruePositive": sum(1 for t, f in pairs if t and f),
        "TrueNegative": sum(1 for t, f in pairs if not t and not f),
        "FalsePositive": sum(1 for t, f in pairs if not t and f),
        "FalseNegative": sum(1 for t, f in pairs if t and not f),
    }


def _added(counts: Sequence[dict[str, int]]) -> dict[str, int]:
    keys = ("TruePositive", "TrueNegative", "FalsePositive", "FalseNegative")
    return {key: sum(c[key] for c in counts) for key in keys}


def at_threshold(
    labels: Sequence[str],
    threshold: float,
    truth: Sequence[frozenset[str]],
    base: Sequence[Answer],
    adapter: Sequence[Answer],
) -> dict[str, Any]:
    """The counts of both models, per category and added up, at one confidence threshold."""
    base_counts, adapter_counts = [], []
    for label in labels:
        present = [label in image for image in truth]
        base_counts.append(_counts(present, [a.get(label, 0.0) >= threshold for a in base]))
        adapter_counts.append(_counts(present, [a.get(label, 0.0) >= threshold for a in adapter]))
    return {
        "ConfidenceThreshold": threshold,
        "AggregatedEvaluationResults": {
            "BaseModel": _added(base_counts),
            "Adapter": _added(adapter_counts),
        },
        "LabelEvaluationResults": [
            {"Label": label, "BaseModel": b, "Adapter": a}
            for label, b, a in zip(labels, base_counts, adapter_counts, strict=True)
        ],
    }


def f1(counts: Mapping[str, int]) -> float:
    denominator = 2 * counts["TruePositive"] + counts["FalsePositive"] + counts["FalseNegative"]
    return 2 * counts["TruePositive"] / denominator if denominator else 0.0


def evaluation(
    version_arn: str,
    labels: Sequence[str],
    threshold: float,
    truth: Sequence[frozenset[str]],
    base: Sequence[Answer],
    adapter: Sequence[Answer],
    trained: int,
    evaluated_ms: int,
) -> dict[str, Any]:
    """The evaluation results document (EvaluationResult.Summary); `evaluated_ms` is the
    server's clock when the evaluation ended."""
    given = at_threshold(labels, threshold, truth, base, adapter)
    return {
        "AggregatedEvaluationResults": {
            "F1Score": f1(given["AggregatedEvaluationResults"]["Adapter"])
        },
        "EvaluationDetails": {
            "EvaluationEndTimestamp": dt.datetime.fromtimestamp(
                evaluated_ms / 1000, dt.UTC
            ).isoformat(timespec="milliseconds"),
            "Labels": list(labels),
            "NumberOfTestingImages": len(truth),
            "NumberOfTrainingImages": trained,
            "ProjectVersionArn": version_arn,
        },
        "ContentModeration": {
            "InputConfidenceThresholdEvalResults": given,
            "AllConfidenceThresholdsEvalResults": [
                at_threshold(labels, t, truth, base, adapter) for t in THRESHOLDS
            ],
        },
    }


def prediction(
    taxonomy: Taxonomy, answer: Answer, model_version: str, project_version: str | None
) -> dict[str, Any]:
    """A DetectModerationLabels-like prediction at the output manifests' threshold (5.0)."""
    out: dict[str, Any] = {
        "ModerationLabels": [
            {"Confidence": d.confidence, "Name": d.category.name, "ParentName": d.category.parent}
            for d in taxonomy.detected(answer, PREDICTION_THRESHOLD)
        ],
        "ModerationModelVersion": model_version,
    }
    if project_version is not None:
        out["ProjectVersion"] = project_version
    return out


def output_manifest(
    lines: Sequence[AdapterLine], predictions: Sequence[tuple[dict[str, Any], dict[str, Any]]] = ()
) -> str:
    """One JSON line per image: its reference and ground truth, and for the test images the
    adapter's and the base model's predictions (`predictions`, in the lines' order)."""
    out = []
    for index, line in enumerate(lines):
        record = line.output()
        if predictions:
            adapter, base = predictions[index]
            record["detect-moderation-labels"] = adapter
            record["detect-moderation-labels-base-model"] = base
        out.append(json.dumps(record, ensure_ascii=False) + "\n")
    return "".join(out)

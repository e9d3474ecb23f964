"""Evaluation of a trained classifier on the test set (training-and-inference.md §2).

Per label: the assumed threshold is the confidence that maximises F1 on the test set (ties: the
highest), and precision, recall and F1 are taken at it. Aggregates are unweighted means over the
labels; the confusion matrix counts each test image's top label against each of its true labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LabelResult:
    label: str
    test_images: int
    threshold: float
    precision: float
    recall: float
    f1: float


def best_threshold(scores: np.ndarray, truth: np.ndarray) -> tuple[float, float, float, float]:
    """(threshold, precision, recall, F1) for one label; positive means score >= threshold."""
    positives = int(truth.sum())
    if len(scores) == 0 or positives == 0:
        return 0.5, 0.0, 0.0, 0.0
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], truth[order].astype(np.int64)
    # the last index of each run of equal scores: predicting positive down to that score
    ends = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))
    true_pos = np.cumsum(hits)[ends]
    predicted = ends + 1
    precision = true_pos / predicted
    recall = true_pos / positives
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    best = int(np.flatnonzero(f1 == f1.max())[0])  # first = highest threshold among ties
    return float(ranked[ends[best]]), float(precision[best]), float(recall[best]), float(f1[best])


def evaluate(labels: list[str], scores: np.ndarray, truth: np.ndarray) -> list[LabelResult]:
    """`scores`, `truth`: [images, labels]; results sorted by F1, best first."""
    results = []
    for index, label in enumerate(labels):
        threshold, precision, recall, f1 = best_threshold(scores[:, index], truth[:, index])
        results.append(LabelResult(label, int(truth[:, index].sum()), threshold, precision,
                                   recall, f1))
    return sorted(results, key=lambda r: (-r.f1, r.label))


def aggregate(results: list[LabelResult]) -> dict[str, float]:
    if not results:
        return {"Precision": 0.0, "Recall": 0.0, "F1Score": 0.0}
    return {"Precision": float(np.mean([r.precision for r in results])),
            "Recall": float(np.mean([r.recall for r in results])),
            "F1Score": float(np.mean([r.f1 for r in results]))}


def confusion_matrix(labels: list[str], scores: np.ndarray,
                     truth: np.ndarray) -> list[dict[str, object]]:
    """Every (ground truth G, predicted P) pair: share of G's test images whose top label is P."""
    top = scores.argmax(1) if len(scores) else np.zeros(0, np.int64)
    cells = []
    for g, ground in enumerate(labels):
        carriers = np.flatnonzero(truth[:, g])
        for p, predicted in enumerate(labels):
            value = float(np.mean(top[carriers] == p)) if len(carriers) else 0.0
            cells.append({"GroundTruthLabel": ground, "PredictedLabel": predicted,
                          "Value": value})
    return cells

"""Evaluation of a trained classifier on the test set (training-and-inference.md §2).

Per label: the assumed threshold maximises F1 on the test set, and precision, recall and F1 are
taken at it. Every threshold between the lowest confidence predicted positive and the highest
one left out gives the same F1; the assumed threshold is the middle of that gap (of the best
such gap, the highest if several tie), so that an image a little less clear than the test
images still clears it. Aggregates are unweighted means over the labels; the confusion matrix
counts each test image's top label against each of its true labels.

The labels evaluated are the test set's as well as the model's: a test label the model never
learned (the label-overlap rule lets one through) is never predicted, so each of its test images
(or true boxes) is a false negative and its precision, recall and F1 are 0 (§2.2's degenerate
cases), with §2.3's threshold for a label nothing predicts, 0.5; it counts in the aggregates.
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


def best_threshold(
    scores: np.ndarray, truth: np.ndarray, positives: int | None = None
) -> tuple[float, float, float, float]:
    """(threshold, precision, recall, F1) for one label; positive means score >= threshold.

    `truth[i]`: prediction i is right. `positives`: how many things there were to find (for
    classification, the images carrying the label: the default; for boxes, the true boxes).
    """
    positives = int(truth.sum()) if positives is None else positives
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
    lowest_in = ranked[ends[best]]
    highest_out = ranked[ends[best] + 1] if ends[best] + 1 < len(ranked) else lowest_in
    middle = (lowest_in + highest_out) / 2
    threshold = float(middle if highest_out < middle <= lowest_in else lowest_in)
    return threshold, float(precision[best]), float(recall[best]), float(f1[best])


NEVER_PREDICTED = (0.5, 0.0, 0.0, 0.0)  # threshold, precision, recall, F1 of an unlearned label


def evaluate(labels: list[str], scores: np.ndarray, truth: np.ndarray) -> list[LabelResult]:
    """`truth`: [images, labels]; `scores`: [images, learned labels], the model's labels first in
    `labels`, the test labels it never learned after them. Results sorted by F1, best first."""
    results = []
    for index, label in enumerate(labels):
        threshold, precision, recall, f1 = (
            best_threshold(scores[:, index], truth[:, index])
            if index < scores.shape[1]
            else NEVER_PREDICTED
        )
        results.append(
            LabelResult(label, int(truth[:, index].sum()), threshold, precision, recall, f1)
        )
    return sorted(results, key=lambda r: (-r.f1, r.label))


def aggregate(results: list[LabelResult]) -> dict[str, float]:
    if not results:
        return {"Precision": 0.0, "Recall": 0.0, "F1Score": 0.0}
    return {
        "Precision": float(np.mean([r.precision for r in results])),
        "Recall": float(np.mean([r.recall for r in results])),
        "F1Score": float(np.mean([r.f1 for r in results])),
    }


def confusion_matrix(
    labels: list[str], scores: np.ndarray, truth: np.ndarray
) -> list[dict[str, object]]:
    """Every (ground truth G, predicted P) pair: share of G's test images whose top label is P
    (`scores` and `truth` as for `evaluate`: a label the model never learned is never P)."""
    top = scores.argmax(1) if scores.size else np.zeros(len(truth), np.int64)
    cells = []
    for g, ground in enumerate(labels):
        carriers = np.flatnonzero(truth[:, g])
        for p, predicted in enumerate(labels):
            value = float(np.mean(top[carriers] == p)) if len(carriers) else 0.0
            cells.append({"GroundTruthLabel": ground, "PredictedLabel": predicted, "Value": value})
    return cells


def assign_boxes(
    predicted: list[tuple[str, float, np.ndarray]], truth: list[tuple[str, np.ndarray]]
) -> list[int]:
    """For one image: the true box (index) each prediction (best first) matches, or -1. A match
    is a true box of the prediction's label with IoU >= 0.5, the best free one; each true box is
    matched once, by the best-scoring prediction that reaches it. Predictions above a threshold
    come first, so they match exactly as if the others did not exist."""
    used = [False] * len(truth)
    matches = []
    for label, _, box in predicted:
        best, best_iou = -1, 0.5
        for index, (true_label, true_box) in enumerate(truth):
            if used[index] or true_label != label:
                continue
            overlap = _iou(box, true_box)
            if overlap >= best_iou:
                best, best_iou = index, overlap
        if best >= 0:
            used[best] = True
        matches.append(best)
    return matches


def match_boxes(
    predicted: list[tuple[str, float, np.ndarray]], truth: list[tuple[str, np.ndarray]]
) -> list[bool]:
    """For one image: whether each prediction matches a true box (`assign_boxes`)."""
    return [match >= 0 for match in assign_boxes(predicted, truth)]


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def average_precision(scores: np.ndarray, hits: np.ndarray, positives: int) -> float:
    """Area under the precision/recall curve, all-point interpolation, predictions by score."""
    if positives == 0 or len(scores) == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    true_pos = np.cumsum(hits[order])
    recall = np.concatenate([[0.0], true_pos / positives, [1.0]])
    precision = np.concatenate([[0.0], true_pos / np.arange(1, len(order) + 1), [0.0]])
    for i in range(len(precision) - 2, -1, -1):
        precision[i] = max(precision[i], precision[i + 1])
    steps = np.flatnonzero(recall[1:] != recall[:-1])
    return float(((recall[steps + 1] - recall[steps]) * precision[steps + 1]).sum())


@dataclass
class BoxEvaluation:
    results: list[LabelResult]
    average_precision: float
    average_recall: float


def evaluate_boxes(
    labels: list[str],
    predicted: list[list[tuple[str, float, np.ndarray]]],
    truth: list[list[tuple[str, np.ndarray]]],
) -> BoxEvaluation:
    """Per-label thresholds and metrics over every box of every test image (§2.1-2.4); a label
    nothing predicts (one the model never learned) gets `NEVER_PREDICTED`'s."""
    hits = [match_boxes(p, t) for p, t in zip(predicted, truth, strict=True)]
    results, aps, ars = [], [], []
    for label in labels:
        scores = np.array([s for p in predicted for (lab, s, _) in p if lab == label])
        right = np.array(
            [
                h
                for p, hs in zip(predicted, hits, strict=True)
                for (lab, _, _), h in zip(p, hs, strict=True)
                if lab == label
            ],
            bool,
        )
        positives = sum(1 for t in truth for (lab, _) in t if lab == label)
        threshold, precision, recall, f1 = best_threshold(scores, right, positives)
        images = sum(1 for t in truth if any(lab == label for lab, _ in t))
        results.append(LabelResult(label, images, threshold, precision, recall, f1))
        if positives:
            aps.append(average_precision(scores, right, positives))
            ars.append(float(right.sum()) / positives)
    results.sort(key=lambda r: (-r.f1, r.label))
    return BoxEvaluation(
        results, float(np.mean(aps)) if aps else 0.0, float(np.mean(ars)) if ars else 0.0
    )


Box = tuple[str, float, np.ndarray]  # label, confidence (0-1), (x1, y1, x2, y2) ratios


def evaluated_boxes(
    found: list[Box], truth: list[tuple[str, np.ndarray]], thresholds: dict[str, float]
) -> list[tuple[str, Box]]:
    """The boxes of one test image that the evaluation counts, with their outcome: each true box
    once, TP (the above-threshold box that matched it) or FN (the best box below the threshold
    that reached it, else the true box with confidence 0), then the unmatched boxes above their
    label's threshold, FP. So per label TP + FN = the true boxes, as AWS's snapshot reads."""
    positive = [score >= thresholds.get(label, 0.5) for label, score, _ in found]
    matches = assign_boxes(found, truth)
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

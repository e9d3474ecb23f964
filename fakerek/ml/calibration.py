"""Confidences that mean what they say (issue 12, point 8).

Two corrections, both fitted on held-out data (the test split of a training):

* `Platt`: a logistic map of a score's logit, fitted by Platt's method with his smoothed targets
  ((n+ + 1) / (n+ + 2) for the n+ positives, 1 / (n- + 2) for the n- negatives), so that a small
  test split of easy images gives confident but not certain scores instead of 1.0 everywhere.
* `Familiarity`: an image unlike every training image (a blank frame, noise) gets its label
  confidences damped: linear heads extrapolate, so their scores far from the training data are
  as confident as anywhere. Familiarity is the cosine distance of the image's features to the
  nearest training image, against the distances seen for held-out images.

No probability reaches 1: a confidence in percent is never exactly 100.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_PROBABILITY = 0.99999  # 99.999 %: AWS answers confidences below 100
MAX_REFERENCES = 1000  # training images a model keeps to measure familiarity


def bounded(probabilities: np.ndarray) -> np.ndarray:
    return np.minimum(probabilities, MAX_PROBABILITY)


def logit(probabilities: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(probabilities, np.float64), 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def sigmoid(values: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(values, -60, 60)))


@dataclass(frozen=True)
class Platt:
    """p = sigmoid(scale * logit + shift)."""

    scale: float = 1.0
    shift: float = 0.0

    def __call__(self, logits: np.ndarray) -> np.ndarray:
        return bounded(sigmoid(self.scale * np.asarray(logits, np.float64) + self.shift))

    @classmethod
    def fit(cls, logits: np.ndarray, truth: np.ndarray) -> Platt:
        """Fit on (logit, right or wrong) pairs; the identity when one outcome never occurs."""
        z = np.asarray(logits, np.float64).ravel()
        y = np.asarray(truth, bool).ravel()
        positives, negatives = int(y.sum()), int((~y).sum())
        if positives == 0 or negatives == 0:
            return cls()
        target = np.where(y, (positives + 1) / (positives + 2), 1 / (negatives + 2))
        spread = float(z.std()) or 1.0
        scale, shift = _newton(z / spread, target)
        return cls(scale / spread, shift)


def _newton(x: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """Minimise the cross-entropy of sigmoid(a x + b) to soft targets (Newton, backtracking)."""

    def loss(params: np.ndarray) -> float:
        u = params[0] * x + params[1]
        return float(np.sum(np.logaddexp(0.0, u) - target * u))

    params = np.array([1.0, 0.0])
    for _ in range(100):
        p = sigmoid(params[0] * x + params[1])
        gradient = np.array([((p - target) * x).sum(), (p - target).sum()])
        w = p * (1 - p)
        hessian = np.array([[(w * x * x).sum(), (w * x).sum()], [(w * x).sum(), w.sum()]])
        step = np.linalg.solve(hessian + 1e-9 * np.eye(2), gradient)
        size, current = 1.0, loss(params)
        while loss(params - size * step) > current and size > 1e-10:
            size /= 2
        params = params - size * step
        if np.abs(size * step).max() < 1e-10:
            break
    return float(params[0]), float(params[1])


def _unit(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, np.float32)
    return features / (np.linalg.norm(features, axis=1, keepdims=True) + 1e-12)


@dataclass
class Familiarity:
    """How close an image is to the training images: 1 within `radius` (cosine distance to the
    nearest one), then a Gaussian fall-off of `width`."""

    references: np.ndarray  # [R, D] unit feature vectors of training images
    radius: float
    width: float

    def distances(self, features: np.ndarray) -> np.ndarray:
        if len(features) == 0:
            return np.zeros(0)
        similarity = _unit(features) @ self.references.astype(np.float32).T
        return 1.0 - similarity.max(1)

    def __call__(self, features: np.ndarray) -> np.ndarray:
        beyond = np.maximum(self.distances(features) - self.radius, 0.0)
        return np.exp(-((beyond / self.width) ** 2))

    @classmethod
    def of_training(cls, features: np.ndarray, seed: int = 0) -> Familiarity:
        """References from the training images (one feature row each, at most MAX_REFERENCES),
        radius from their leave-one-out distances."""
        rows = np.asarray(features)
        if len(rows) > MAX_REFERENCES:
            keep = np.random.default_rng(seed).choice(len(rows), MAX_REFERENCES, replace=False)
            rows = rows[np.sort(keep)]
        references = _unit(rows).astype(np.float16)
        similarity = references.astype(np.float32) @ references.astype(np.float32).T
        np.fill_diagonal(similarity, -1.0)
        leave_one_out = 1.0 - similarity.max(1) if len(rows) > 1 else np.zeros(1)
        return cls(references, 0.0, 1.0).widened(leave_one_out)

    def widened(self, held_out_distances: np.ndarray) -> Familiarity:
        """The radius grown to cover the distances of held-out images (which are familiar)."""
        radius = max(self.radius, float(np.max(held_out_distances, initial=0.0)))
        return Familiarity(self.references, radius, max(radius / 2, 1e-3))


def expected_calibration_error(
    confidences: np.ndarray, correct: np.ndarray, bins: int = 10
) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by their size."""
    confidences = np.asarray(confidences, np.float64).ravel()
    correct = np.asarray(correct, np.float64).ravel()
    if len(confidences) == 0:
        return 0.0
    index = np.minimum((confidences * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        chosen = index == b
        if chosen.any():
            total += chosen.sum() * abs(confidences[chosen].mean() - correct[chosen].mean())
    return float(total / len(confidences))

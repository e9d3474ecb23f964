"""Confidences that mean what they say (issue 12, point 8).

Corrections fitted on held-out data (the test split of a training):

* `Temperature` (single-label heads): the softmax's logits divided by one temperature;
  `Platt` (one sigmoid per label, and detector scores): a logistic map of a score's logit. Both
  are fitted to smoothed targets as Platt proposed ((n + 1) / (n + 2) for what happened, over n
  examples), so that a small test split of easy images gives confident but not certain scores
  instead of 1.0 everywhere.
* `Familiarity`: an image unlike the training images gets its label confidences damped: linear
  heads extrapolate, so their scores far from the training data are as confident as anywhere.
  An image is unfamiliar when its features point away from every training image's (cosine
  distance) or when its strongest activations are weaker than any familiar image's (the feature
  norm: a blank frame excites nothing), each measured against the training and held-out images.

No probability reaches 1: a confidence in percent is never exactly 100.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

MAX_PROBABILITY = 0.99999  # 99.999 %: AWS answers confidences below 100
MAX_REFERENCES = 1000  # training images a model keeps to measure familiarity


def bounded(probabilities: np.ndarray) -> np.ndarray:
    capped: np.ndarray = np.minimum(probabilities, MAX_PROBABILITY)
    return capped


def logit(probabilities: np.ndarray | float) -> np.ndarray:
    p = np.clip(np.asarray(probabilities, np.float64), 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def sigmoid(values: np.ndarray) -> np.ndarray:
    out: np.ndarray = 1.0 / (1.0 + np.exp(-np.clip(values, -60, 60)))
    return out


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


@dataclass(frozen=True)
class Temperature:
    """softmax(logits / temperature), fitted to smoothed targets: the true label of each of the
    n images gets (n + 1) / (n + 2), the others share the rest."""

    temperature: float = 1.0

    @classmethod
    def fit(cls, logits: np.ndarray, truth: np.ndarray) -> Temperature:
        """`logits`, `truth`: [images, labels], one true label per image."""
        z = np.asarray(logits, np.float64)
        n, labels = z.shape
        if n == 0 or labels < 2:
            return cls()
        target = np.full(z.shape, 1 / (n + 2) / (labels - 1))
        target[np.arange(n), np.asarray(truth).argmax(1)] = (n + 1) / (n + 2)

        def loss(log_inverse: float) -> float:
            scaled = np.exp(log_inverse) * z
            top = scaled.max(1, keepdims=True)
            log_sum = np.log(np.exp(scaled - top).sum(1, keepdims=True)) + top
            return float(-(target * (scaled - log_sum)).sum())

        inverse = np.exp(_golden_minimum(loss, -12.0, 8.0))  # convex in 1/T: one minimum
        return cls(1.0 / inverse)


def _golden_minimum(
    function: Callable[[float], float], low: float, high: float, steps: int = 80
) -> float:
    """The minimum of a unimodal function on [low, high], by golden-section search."""
    ratio = (np.sqrt(5) - 1) / 2
    a, b = low, high
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = function(c), function(d)
    for _ in range(steps):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = function(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = function(d)
    return (a + b) / 2


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
    unit: np.ndarray = features / (np.linalg.norm(features, axis=1, keepdims=True) + 1e-12)
    return unit


@dataclass
class Familiarity:
    """1 for an image within the familiar range, then a Gaussian fall-off as wide as the spread
    of the familiar images: in cosine distance to the nearest training image beyond `radius`, in
    feature norm below `floor`."""

    references: np.ndarray  # [R, D] unit feature vectors of training images (float16)
    radius: float
    spread: float
    floor: float
    slack: float
    strengths: np.ndarray | None = None  # the references' norms, while the model is trained
    _references32: np.ndarray | None = field(default=None, repr=False, compare=False)

    def distances(self, features: np.ndarray) -> np.ndarray:
        if len(features) == 0:
            return np.zeros(0)
        if self._references32 is None:  # converted once: a detection should not pay it
            self._references32 = np.ascontiguousarray(self.references.T, np.float32)
        similarity = _unit(features) @ self._references32
        distances: np.ndarray = 1.0 - similarity.max(1)
        return distances

    def __call__(self, features: np.ndarray) -> np.ndarray:
        far = np.maximum(self.distances(features) - self.radius, 0.0) / self.spread
        weak = np.maximum(self.floor - _norm(features), 0.0) / self.slack
        return np.exp(-(far**2) - weak**2)

    @classmethod
    def of_training(cls, features: np.ndarray, seed: int = 0) -> Familiarity:
        """From the training images' features (one row each; at most MAX_REFERENCES kept)."""
        rows = np.asarray(features, np.float32)
        if len(rows) > MAX_REFERENCES:
            keep = np.random.default_rng(seed).choice(len(rows), MAX_REFERENCES, replace=False)
            rows = rows[np.sort(keep)]
        references = _unit(rows).astype(np.float16)
        return cls(references, 0.0, 1.0, 0.0, 1.0, _norm(rows)).fitted(rows[:0])

    def fitted(self, held_out: np.ndarray) -> Familiarity:
        """The familiar range of the training images (each against the others) and of these
        held-out images."""
        if self.strengths is None:
            raise ValueError("a loaded model's familiar range cannot be refitted")
        distances = np.concatenate([self._leave_one_out(), self.distances(held_out)])
        strengths = np.concatenate([self.strengths, _norm(held_out)])
        radius, floor = float(distances.max()), float(strengths.min())
        return Familiarity(
            self.references,
            radius,
            max(float(distances.std()), 0.01 * radius, 1e-3),
            floor,
            max(float(strengths.std()), 0.01 * floor, 1e-3),
            self.strengths,
        )

    def _leave_one_out(self) -> np.ndarray:
        if len(self.references) < 2:
            return np.zeros(1)
        unit = self.references.astype(np.float32)
        similarity = unit @ unit.T
        np.fill_diagonal(similarity, -1.0)
        distances: np.ndarray = 1.0 - similarity.max(1)
        return distances


def _norm(features: np.ndarray) -> np.ndarray:
    norms: np.ndarray = np.linalg.norm(np.asarray(features, np.float32), axis=1)
    return norms


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

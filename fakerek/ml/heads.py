"""Linear heads on frozen features, trained with numpy (no autograd needed).

Single-label classification is multinomial logistic regression (softmax), multi-label is one
sigmoid per label. Features are standardised for the fit and the standardisation is folded into
the weights, so the exported head works on raw features. Full-batch Adam; the L2 strength is chosen
on a seeded 75/25 split that keeps the views of one image together. Same inputs, same seed: same
weights, bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1)
L2_TOLERANCE = 0.01  # nats per row of held-out log-likelihood
L2_SEARCH_IMAGES = 2000  # images the L2 search fits on at most (a seeded sample beyond)
SOFTMAX, SIGMOID = "Softmax", "Sigmoid"


@dataclass
class LinearHead:
    weights: np.ndarray  # [D, K], acting on raw features
    bias: np.ndarray  # [K]
    activation: str  # Softmax | Sigmoid

    def logits(self, features: np.ndarray) -> np.ndarray:
        logits: np.ndarray = features @ self.weights + self.bias
        return logits

    def scores(self, features: np.ndarray) -> np.ndarray:
        return activate(self.logits(features), self.activation)

    def scaled(self, scale: float, shift: float) -> LinearHead:
        """The head whose logits are `scale * logits + shift` (a calibration folded in)."""
        return LinearHead(
            (self.weights * scale).astype(np.float32),
            (self.bias * scale + shift).astype(np.float32),
            self.activation,
        )


def activate(logits: np.ndarray, activation: str) -> np.ndarray:
    scores: np.ndarray
    if activation == SOFTMAX:
        shifted = logits - logits.max(1, keepdims=True)
        exp = np.exp(shifted)
        scores = exp / exp.sum(1, keepdims=True)
    else:
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))
    return scores


def fit(
    features: np.ndarray,
    targets: np.ndarray,
    activation: str,
    l2: float,
    iterations: int = 300,
    rate: float = 0.05,
) -> LinearHead:
    """`targets`: [N, K] one-hot (Softmax) or 0/1 (Sigmoid)."""
    return fit_many(features, targets, activation, [l2], iterations, rate)[0]


def fit_many(
    features: np.ndarray,
    targets: np.ndarray,
    activation: str,
    l2s: Sequence[float],
    iterations: int = 300,
    rate: float = 0.05,
) -> list[LinearHead]:
    """One head per L2 strength, fitted side by side: each iteration reads the features once for
    all of them (with thousands of images the fit is bound by memory bandwidth, not arithmetic)."""
    mean = features.mean(0)
    scale = features.std(0) + 1e-3
    z = ((features - mean) / scale).astype(np.float32)
    t = targets.astype(np.float32)[:, None, :]  # [N, 1, K], against logits [N, L, K]
    n, d = z.shape
    count, k = len(l2s), targets.shape[1]
    strengths = np.asarray(l2s, np.float32)[None, :, None]  # [1, L, 1]
    w = np.zeros((d, count, k), np.float32)
    b = np.zeros((count, k), np.float32)
    if activation == SIGMOID:
        prior = np.clip(targets.mean(0), 1e-4, 1 - 1e-4)
        b[:] = np.log(prior / (1 - prior)).astype(np.float32)
    mw, vw, mb, vb = np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)
    beta1, beta2 = 0.9, 0.999
    for step in range(1, iterations + 1):
        logits = (z @ w.reshape(d, count * k)).reshape(n, count, k) + b
        gradient = (_activate_last(logits, activation) - t) / n
        gw = (z.T @ gradient.reshape(n, count * k)).reshape(d, count, k) + strengths * w
        gb = gradient.sum(0)
        mw = beta1 * mw + (1 - beta1) * gw
        vw = beta2 * vw + (1 - beta2) * gw * gw
        mb = beta1 * mb + (1 - beta1) * gb
        vb = beta2 * vb + (1 - beta2) * gb * gb
        c1, c2 = 1 - beta1**step, 1 - beta2**step
        w -= rate * (mw / c1) / (np.sqrt(vw / c2) + 1e-8)
        b -= rate * (mb / c1) / (np.sqrt(vb / c2) + 1e-8)
    heads = []
    for index in range(count):
        raw_w = (w[:, index] / scale[:, None]).astype(np.float32)
        raw_b = (b[index] - (mean / scale) @ w[:, index]).astype(np.float32)
        heads.append(LinearHead(raw_w, raw_b, activation))
    return heads


def _activate_last(logits: np.ndarray, activation: str) -> np.ndarray:
    """`activate` over the last axis of [N, L, K] logits."""
    scores: np.ndarray
    if activation == SOFTMAX:
        shifted = logits - logits.max(-1, keepdims=True)
        exp = np.exp(shifted)
        scores = exp / exp.sum(-1, keepdims=True)
    else:
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))
    return scores


def _log_likelihood(head: LinearHead, features: np.ndarray, targets: np.ndarray) -> float:
    p = head.scores(features)
    if head.activation == SOFTMAX:
        return float(np.mean(np.log((p * targets).sum(1) + 1e-9)))
    return float(np.mean(targets * np.log(p + 1e-9) + (1 - targets) * np.log(1 - p + 1e-9)))


def train(
    features: np.ndarray, targets: np.ndarray, groups: np.ndarray, activation: str, seed: int = 0
) -> LinearHead:
    """Choose L2 on a held-out quarter of the images (`groups` = image of each row), then fit.

    The strongest L2 whose held-out log-likelihood is within L2_TOLERANCE of the best wins: on a
    few easy images every L2 predicts the held-out quarter right, and the weakest would only buy
    logits in the hundreds. With more than L2_SEARCH_IMAGES images the search runs on a seeded
    sample of that many: the choice is as good, and the search stays seconds."""
    images = np.unique(groups)
    order = np.random.default_rng(seed).permutation(images)
    searched = order[:L2_SEARCH_IMAGES]
    held = searched[: max(1, len(searched) // 4)]
    validation = np.isin(groups, held)
    fitted = np.isin(groups, searched) & ~validation
    if not validation.any() or not fitted.any():
        return fit(features, targets, activation, L2_GRID[1])
    candidates = fit_many(features[fitted], targets[fitted], activation, L2_GRID)
    scores = {
        l2: _log_likelihood(head, features[validation], targets[validation])
        for l2, head in zip(L2_GRID, candidates, strict=True)
    }
    best = max(scores.values())
    chosen = max(l2 for l2, score in scores.items() if score >= best - L2_TOLERANCE)
    return fit(features, targets, activation, chosen)

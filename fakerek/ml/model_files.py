"""Reading a version's model files with every value checked (issue 11).

A model whose files were tampered with or damaged must fail its start, not reach RUNNING and
answer every detection with a 500: so whatever a loader reads, it reads through these checks,
which raise `ModelFileError` saying what is wrong.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from fakerek.ml import features


class ModelFileError(ValueError):
    """A model file holds something a model cannot be built from."""


def metadata(folder: str) -> dict[str, Any]:
    try:
        with open(os.path.join(folder, "model.json"), encoding="utf-8") as handle:
            meta = json.load(handle)
    except (OSError, ValueError) as error:
        raise ModelFileError(f"model.json: {error}") from None
    if not isinstance(meta, dict):
        raise ModelFileError("model.json: not an object")
    return meta


def number(value: Any, what: str, low: float = -math.inf, high: float = math.inf) -> float:
    """A finite JSON number within [low, high] (true and false are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ModelFileError(f"{what}: {value!r} is not a finite number")
    if not low <= value <= high:
        raise ModelFileError(f"{what}: {value!r} is outside [{low}, {high}]")
    return float(value)


def labels(meta: dict[str, Any]) -> list[str]:
    found = meta.get("labels")
    if (
        not isinstance(found, list)
        or not found
        or not all(isinstance(label, str) and label for label in found)
        or len(set(found)) != len(found)
    ):
        raise ModelFileError("labels: not a list of distinct label names")
    return found


def thresholds(meta: dict[str, Any], names: Sequence[str]) -> dict[str, float]:
    found = meta.get("thresholds", {})
    if not isinstance(found, dict) or not set(found) <= set(names):
        raise ModelFileError("thresholds: not a map of the model's labels")
    return {
        label: number(value, f"threshold of {label}", 0.0, 1.0) for label, value in found.items()
    }


def precision(meta: dict[str, Any]) -> str:
    found = meta.get("backbone", features.LEGACY_PRECISION)
    if found not in features.PRECISIONS:
        raise ModelFileError(f"backbone: {found!r} is not one of {features.PRECISIONS}")
    return str(found)


def array(value: Any, what: str, shape: Sequence[int | None]) -> np.ndarray:
    """A finite floating-point array of `shape` (None: any length on that axis)."""
    if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
        raise ModelFileError(f"{what}: not an array of numbers")
    if value.ndim != len(shape) or any(
        want is not None and got != want for got, want in zip(value.shape, shape, strict=True)
    ):
        raise ModelFileError(f"{what}: shape {value.shape}, expected {tuple(shape)}")
    if not np.isfinite(value).all():
        raise ModelFileError(f"{what}: holds a value that is not finite")
    return value


def npy(path: str, what: str) -> np.ndarray:
    """An array file (no pickles: `np.load` refuses them)."""
    try:
        array: np.ndarray = np.load(path)
        return array
    except (OSError, ValueError) as error:
        raise ModelFileError(f"{what}: {error}") from None

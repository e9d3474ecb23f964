"""Running models: the loaded model of each running version, and what they predict.

A model is loaded when its version starts (or, after a restart of fakerek, at its first
detection) and dropped when it stops or is deleted. Classification and localisation models share
the backbone sessions of `ml.features` and `ml.detector`; the ML stack (numpy, onnxruntime) is
imported with the first model, not when the server starts.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import dataclass
from typing import Any


def model_folder(data_dir: str, version_id: int) -> str:
    """Where a version's model files live (its head and, for a detector, its anchors)."""
    return os.path.join(data_dir, "models", str(version_id))


def remove_model(data_dir: str, version_id: int) -> None:
    shutil.rmtree(model_folder(data_dir, version_id), ignore_errors=True)


@dataclass
class Label:
    name: str
    confidence: float  # percent
    box: tuple[float, float, float, float] | None = None  # x1, y1, x2, y2 ratios
    threshold: float = 50.0  # the label's assumed threshold, in percent


class Models:
    def __init__(self) -> None:
        self._loaded: dict[int, Any] = {}
        self._lock = threading.Lock()

    def get(self, version_id: int, folder: str) -> Any:
        with self._lock:
            model = self._loaded.get(version_id)
        if model is None:
            model = load(folder)
            with self._lock:
                model = self._loaded.setdefault(version_id, model)
        return model

    def drop(self, version_id: int) -> None:
        with self._lock:
            self._loaded.pop(version_id, None)

    def reset(self) -> None:
        with self._lock:
            self._loaded.clear()


def load(folder: str) -> Any:
    from fakerek.ml import classifier, detector  # the ML stack loads with the first model

    with open(os.path.join(folder, "model.json"), encoding="utf-8") as handle:
        task = json.load(handle)["task"]
    if task == "localization":
        return detector.DetectorModel.load(folder)
    return classifier.Model.load(folder)


def predict(model: Any, image: bytes) -> list[Label]:
    """Every label the model gives the image, with its confidence in percent."""
    from fakerek.ml import detector

    thresholds = {label: 100 * t for label, t in model.thresholds.items()}
    if isinstance(model, detector.DetectorModel):
        return [
            Label(
                d.label,
                100 * d.score,
                (float(d.box[0]), float(d.box[1]), float(d.box[2]), float(d.box[3])),
                thresholds.get(d.label, 50.0),
            )
            for d in model.detect(image)
        ]
    scores = model.scores([image])[0]
    return [
        Label(label, 100 * float(score), None, thresholds.get(label, 50.0))
        for label, score in zip(model.labels, scores, strict=True)
    ]

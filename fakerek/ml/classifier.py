"""Image-level models: train a head on the shared backbone, calibrate it, save it, load it, predict.

A version's model is a folder with `head.onnx` (features → calibrated scores, a few hundred KB),
`familiarity.npy` (the training images' unit features, float16) and `model.json` (task, labels,
assumed thresholds, familiar range). The backbone is shared by every version.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

from fakerek.ml import calibration, features, graph, heads

log = logging.getLogger("fakerek.training")
Loader = Callable[[str], bytes]  # source-ref → image bytes
FAMILIARITY = "familiarity.npy"


@dataclass
class Example:
    source_ref: str
    labels: set[str]


@dataclass
class Model:
    labels: list[str]
    head: heads.LinearHead
    thresholds: dict[str, float] = field(default_factory=dict)
    task: str = "classification"
    familiarity: calibration.Familiarity | None = None

    def embed(self, images: Sequence[bytes], threads: int = features.SERVING_THREADS) -> np.ndarray:
        arrays = [features.to_array(features.decode(data)) for data in images]
        return features.backbone(threads).embed(arrays)

    def scores_of(self, embedded: np.ndarray) -> np.ndarray:
        """[images, labels] confidences (0-1) of embedded images."""
        scores = self.head.scores(embedded)
        if self.familiarity is not None:
            scores = scores * self.familiarity(embedded)[:, None]
        return calibration.bounded(scores)

    def scores(
        self, images: Sequence[bytes], threads: int = features.SERVING_THREADS
    ) -> np.ndarray:
        return self.scores_of(self.embed(images, threads))

    def calibrate(self, embedded: np.ndarray, truth: np.ndarray) -> None:
        """Fit the confidences on held-out images (`truth`: [images, labels]), folded into the
        head: a temperature for a softmax, Platt's map of every label's logit for sigmoids; and
        the familiar range, to cover these images."""
        if len(embedded) == 0:
            return
        logits = self.head.logits(embedded)
        if self.head.activation == heads.SOFTMAX:
            temperature = calibration.Temperature.fit(logits, truth).temperature
            self.head = self.head.scaled(1 / temperature, 0.0)
        else:
            platt = calibration.Platt.fit(logits, truth)
            self.head = self.head.scaled(platt.scale, platt.shift)
        if self.familiarity is not None:
            self.familiarity = self.familiarity.fitted(embedded)

    def save(self, folder: str) -> None:
        os.makedirs(folder, exist_ok=True)
        model = graph.linear_head_model(
            self.head.weights,
            self.head.bias,
            self.head.activation,
            {"labels": json.dumps(self.labels), "task": self.task},
        )
        _write(os.path.join(folder, "head.onnx"), model.SerializeToString())
        meta = {
            "task": self.task,
            "labels": self.labels,
            "activation": self.head.activation,
            "thresholds": self.thresholds,
            "input_size": features.SIZE,
        }
        if self.familiarity is not None:
            buffer = io.BytesIO()
            np.save(buffer, self.familiarity.references)
            _write(os.path.join(folder, FAMILIARITY), buffer.getvalue())
            meta["familiarity"] = {
                key: getattr(self.familiarity, key)
                for key in ("radius", "spread", "floor", "slack")
            }
        _write(os.path.join(folder, "model.json"), json.dumps(meta, indent=1).encode())

    @classmethod
    def load(cls, folder: str) -> Model:
        with open(os.path.join(folder, "model.json"), encoding="utf-8") as handle:
            meta = json.load(handle)
        onnx_model = onnx.load(os.path.join(folder, "head.onnx"))
        tensors = {t.name: numpy_helper.to_array(t) for t in onnx_model.graph.initializer}
        head = heads.LinearHead(
            tensors[graph.HEAD_WEIGHTS], tensors[graph.HEAD_BIAS], meta["activation"]
        )
        familiarity = None
        if "familiarity" in meta:  # models saved before issue 12 have none
            references = np.load(os.path.join(folder, FAMILIARITY))
            familiarity = calibration.Familiarity(references, **meta["familiarity"])
        return cls(meta["labels"], head, meta["thresholds"], meta["task"], familiarity)


def _write(path: str, data: bytes) -> None:
    """Write atomically: a crash leaves the old file or the new one, never half of one."""
    temporary = f"{path}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def train(examples: Sequence[Example], load: Loader, seed: int = 0) -> Model:
    """Fit a head on two views of every training image; single- or multi-label by the data.
    `calibrate` it on held-out images next."""
    started = time.perf_counter()
    labels = sorted(set().union(*(e.labels for e in examples)))
    multi = any(len(e.labels) > 1 for e in examples)
    arrays: list[np.ndarray] = []
    groups: list[int] = []
    targets: list[np.ndarray] = []
    as_seen: list[int] = []
    for index, example in enumerate(examples):
        image = features.decode(load(example.source_ref))
        target = np.array([label in example.labels for label in labels], np.float32)
        as_seen.append(len(arrays))  # the row of the image itself (its first view)
        for view in features.views(image):
            arrays.append(view)
            groups.append(index)
            targets.append(target)
    embedded = features.backbone().embed(arrays)
    log.info(
        "embedded %d images (%d views) in %.1f s",
        len(examples),
        len(arrays),
        time.perf_counter() - started,
    )
    head = heads.train(
        embedded,
        np.array(targets),
        np.array(groups),
        heads.SIGMOID if multi else heads.SOFTMAX,
        seed,
    )
    log.info(
        "trained a %s head on %d labels in %.1f s",
        head.activation,
        len(labels),
        time.perf_counter() - started,
    )
    familiarity = calibration.Familiarity.of_training(embedded[as_seen], seed)
    return Model(labels, head, familiarity=familiarity)

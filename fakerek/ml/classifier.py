"""Image-level models: train a head on the shared backbone, save it, load it, predict.

A version's model is a folder with `head.onnx` (features → scores, a few hundred KB) and
`model.json` (task, labels, assumed thresholds). The backbone is shared by every version.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

from fakerek.ml import features, graph, heads

log = logging.getLogger("fakerek.training")
Loader = Callable[[str], bytes]  # source-ref → image bytes


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

    @property
    def multi_label(self) -> bool:
        return self.head.activation == heads.SIGMOID

    def scores(
        self, images: Sequence[bytes], threads: int = features.SERVING_THREADS
    ) -> np.ndarray:
        arrays = [features.to_array(features.decode(data)) for data in images]
        return self.head.scores(features.backbone(threads).embed(arrays))

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
        return cls(meta["labels"], head, meta["thresholds"], meta["task"])


def _write(path: str, data: bytes) -> None:
    """Write atomically: a crash leaves the old file or the new one, never half of one."""
    temporary = f"{path}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def train(examples: Sequence[Example], load: Loader, seed: int = 0) -> Model:
    """Fit a head on two views of every training image; single- or multi-label by the data."""
    started = time.perf_counter()
    labels = sorted(set().union(*(e.labels for e in examples)))
    multi = any(len(e.labels) > 1 for e in examples)
    arrays, groups, targets = [], [], []
    for index, example in enumerate(examples):
        image = features.decode(load(example.source_ref))
        target = np.array([label in example.labels for label in labels], np.float32)
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
    return Model(labels, head)

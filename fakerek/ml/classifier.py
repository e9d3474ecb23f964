"""Image-level models: train a head on the shared backbone, calibrate it, save it, load it, predict.

A version's model is a folder with `head.npz` (the calibrated head's weights and bias, which a
model loads), `head.onnx` (the same head as a graph, features → scores), `familiarity.npy` (the
training images' unit features, float16) and `model.json` (task, labels, assumed thresholds,
familiar range, the backbone's precision). The backbone is shared by every version.
"""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from fakerek.domain import images as checks
from fakerek.ml import calibration, features, graph, heads, model_files, onnx_proto

log = logging.getLogger("fakerek.training")
FAMILIARITY = "familiarity.npy"
MODERATION = "moderation"  # the task of an adapter's head: Rekognition Image's image limits
HEAD = "head.npz"


@dataclass
class Model:
    labels: list[str]
    head: heads.LinearHead
    thresholds: dict[str, float] = field(default_factory=dict)
    task: str = "classification"
    familiarity: calibration.Familiarity | None = None
    backbone: str = features.LEGACY_PRECISION  # the precision of the backbone it was trained on

    def embed(self, images: Sequence[bytes], threads: int = features.SERVING_THREADS) -> np.ndarray:
        limits = checks.MODERATION_LIMITS if self.task == MODERATION else checks.LIMITS
        arrays = [features.to_array(features.decode(data, limits=limits)) for data in images]
        return features.backbone(self.backbone, threads).embed(arrays)

    @property
    def backbone_identity(self) -> str:
        """What computes this model's features (cached features are keyed by it)."""
        return features.identity("features", self.backbone)

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
        _write(os.path.join(folder, "head.onnx"), model.serialize())
        buffer = io.BytesIO()
        np.savez(buffer, weights=self.head.weights, bias=self.head.bias)
        _write(os.path.join(folder, HEAD), buffer.getvalue())
        meta = {
            "task": self.task,
            "labels": self.labels,
            "activation": self.head.activation,
            "thresholds": self.thresholds,
            "input_size": features.SIZE,
            "backbone": self.backbone,
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
        """The model in `folder`, every value checked (`model_files.ModelFileError`)."""
        meta = model_files.metadata(folder)
        labels = model_files.labels(meta)
        weights, bias = _head_arrays(folder)
        model_files.array(weights, "head weights", (graph.FEATURES, len(labels)))
        model_files.array(bias, "head bias", (len(labels),))
        activation = meta.get("activation")
        if activation not in (heads.SOFTMAX, heads.SIGMOID):
            raise model_files.ModelFileError(f"activation: {activation!r}")
        familiarity = None
        if "familiarity" in meta:  # models saved before issue 12 have none
            familiarity = _familiarity(folder, meta["familiarity"])
        task = meta.get("task")
        if not isinstance(task, str):
            raise model_files.ModelFileError(f"task: {task!r}")
        return cls(
            labels,
            heads.LinearHead(weights, bias, activation),
            model_files.thresholds(meta, labels),
            task,
            familiarity,
            model_files.precision(meta),
        )


def _head_arrays(folder: str) -> tuple[np.ndarray, np.ndarray]:
    """The head's weights and bias: from head.npz, or from head.onnx's initializers for models
    saved before head.npz existed."""
    path = os.path.join(folder, HEAD)
    if os.path.exists(path):
        try:
            with np.load(path) as stored:
                return stored["weights"], stored["bias"]
        except (OSError, ValueError, KeyError) as error:
            raise model_files.ModelFileError(f"{HEAD}: {error}") from None
    try:
        with open(os.path.join(folder, "head.onnx"), "rb") as handle:
            tensors = onnx_proto.initializers(handle.read())
        return tensors[graph.HEAD_WEIGHTS], tensors[graph.HEAD_BIAS]
    except (OSError, ValueError, KeyError) as error:
        raise model_files.ModelFileError(f"head.onnx: {error}") from None


def _familiarity(folder: str, stored: object) -> calibration.Familiarity:
    keys = ("radius", "spread", "floor", "slack")
    if not isinstance(stored, dict) or set(stored) != set(keys):
        raise model_files.ModelFileError("familiarity: not the familiar range")
    values = {key: model_files.number(stored[key], f"familiarity {key}") for key in keys}
    if values["spread"] <= 0 or values["slack"] <= 0:
        raise model_files.ModelFileError("familiarity: spread and slack must be positive")
    references = model_files.npy(os.path.join(folder, FAMILIARITY), FAMILIARITY)
    model_files.array(references, "familiarity references", (None, graph.FEATURES))
    if not len(references):
        raise model_files.ModelFileError("familiarity references: none")
    return calibration.Familiarity(
        references, values["radius"], values["spread"], values["floor"], values["slack"]
    )


def _write(path: str, data: bytes) -> None:
    """Write atomically: a crash leaves the old file or the new one, never half of one."""
    temporary = f"{path}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def train(
    embedded: np.ndarray,
    example_labels: Sequence[set[str]],
    precision: str = features.LEGACY_PRECISION,
    seed: int = 0,
    multi_label: bool | None = None,
) -> Model:
    """Fit a head on embedded training images (`embedded`: [images, views, FEATURES], as
    `embedding.Embedder` gives them); single- or multi-label by the data unless `multi_label`
    says (an adapter's head is multi-label: an image may show several categories, or none).
    `calibrate` it on held-out images next."""
    started = time.perf_counter()
    labels = sorted(set().union(*example_labels))
    multi = any(len(found) > 1 for found in example_labels) if multi_label is None else multi_label
    count, views = embedded.shape[:2]
    targets = np.array(
        [[label in found for label in labels] for found in example_labels], np.float32
    )
    familiarity = calibration.Familiarity.of_training(embedded[:, 0], seed)  # the images as seen
    head = heads.train(
        embedded.reshape(count * views, -1),
        np.repeat(targets, views, axis=0),
        np.repeat(np.arange(count), views),
        heads.SIGMOID if multi else heads.SOFTMAX,
        seed,
    )
    log.info(
        "trained a %s head on %d labels, %d images, in %.1f s",
        head.activation,
        len(labels),
        count,
        time.perf_counter() - started,
    )
    return Model(labels, head, familiarity=familiarity, backbone=precision)

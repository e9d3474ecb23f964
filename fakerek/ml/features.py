"""Images in, feature vectors out: preprocessing and the shared backbone sessions.

One backbone session per process (and precision, and thread count) serves every model version (a
version stores only its head), so many running models cost little memory. Images are decoded by
`manifests.images` (checked, whole), converted to RGB and resized without letterboxing; boxes are
relative, so the distortion is the same at training and inference.

A backbone's `identity` names exactly what it computes (its graph bytes and the onnxruntime that
runs them): cached embeddings are keyed by it, so a cache can only hand back what the backbone
would compute again. Results do not depend on the batch an image is embedded in, nor on the
thread count.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from typing import Any

import numpy as np
import onnxruntime as ort
import PIL
from PIL import Image, ImageOps

from fakerek import config
from fakerek.domain import images
from fakerek.ml import graph, weights
from fakerek.ml.sessions import TRAINING_THREADS, session

images.pillow()  # its decompression-bomb limit holds before this module decodes anything

SIZE = 224
BATCH = 16
PRECISIONS = config.BACKBONES
LEGACY_PRECISION = "float32"  # models saved before the int8 backbone name none
# Serving is adaptive (SERVING_THREADS, see `Adaptive`): a lone detection uses every core,
# concurrent ones one each.
SERVING_THREADS = 0
_locks: dict[tuple[object, ...], threading.Lock] = {}
_locks_guard = threading.Lock()


def _once(*key: object) -> threading.Lock:
    """The lock under which the thing named `key` is built: once per process, by one thread,
    while other things are built or used freely."""
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def to_array(image: Image.Image, size: int = SIZE) -> np.ndarray:
    """uint8 [size, size, 3] RGB."""
    return np.asarray(
        image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8
    )


def decode(
    data: bytes, size: int = SIZE, limits: images.ImageLimits = images.LIMITS
) -> Image.Image:
    """The image, checked and decoded no larger than needed for a `size`×`size` input (raises
    `images.ImageProblem` for an image the service refuses, truncated or corrupt ones included)."""
    return images.decode(data, size, limits)


def views(image: Image.Image, size: int = SIZE, mirrored: bool = True) -> list[np.ndarray]:
    """Training views of one image: as it is and (`mirrored`) mirrored."""
    plain = to_array(image, size)
    return [plain, to_array(ImageOps.mirror(image), size)] if mirrored else [plain]


class Adaptive:
    """Two sessions of one graph: a run that starts while no other run of the graph is in flight
    uses every core (the latency of a lone detection), runs that overlap use one core each (the
    throughput of many; no thread waits inside a run for a core another run holds). The results
    are the same either way: they do not depend on the thread count."""

    def __init__(self, model: bytes):
        cores = max(1, os.cpu_count() or 1)
        self._narrow = session(model, 1)
        self._wide = session(model, cores) if cores > 1 else self._narrow
        self._lock = threading.Lock()
        self._running = 0

    def run(self, outputs: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        with self._lock:
            self._running += 1
            alone = self._running == 1
        try:
            found: list[np.ndarray] = (self._wide if alone else self._narrow).run(outputs, feeds)
            return found
        finally:
            with self._lock:
                self._running -= 1

    def get_outputs(self) -> list[Any]:  # onnxruntime's NodeArg, untyped
        outputs: list[Any] = self._narrow.get_outputs()
        return outputs


def serving_session(model: bytes) -> Adaptive:
    return Adaptive(model)


def graph_bytes(kind: str, precision: str) -> bytes:
    """The serialised backbone: `kind` 'features' (pooled, 224 px) or 'maps' (the stride-16 and
    stride-32 maps, 320 px), in float32 or int8 (calibrated at that input size)."""
    with _once("graph", kind, precision):
        return _graph_bytes(kind, precision)


@functools.cache
def _graph_bytes(kind: str, precision: str) -> bytes:
    if precision == "int8":
        from fakerek.ml import graph_cache, onnx_proto, quantise

        size = SIZE if kind == "features" else graph.MAPS_SIZE
        # what the float graph is made of (the weights file, the code that reads and writes
        # it), not the float graph itself: a hit costs no weights decoding, no graph build
        derived_from = [
            kind.encode(),
            str(size).encode(),
            _file(weights.weights_path()),
            ort.__version__.encode(),  # runs the calibration
            np.__version__.encode(),  # computes the float graph and the ranges
            PIL.__version__.encode(),  # decodes the calibration photos
            *(_file(module.__file__) for module in (quantise, onnx_proto, graph, weights)),
            *quantise.calibration_files(),
        ]
        return graph_cache.cached(
            derived_from, lambda: quantise.quantised_bytes(kind, size), ".int8.onnx"
        )
    if precision != "float32":
        raise ValueError(f"unknown backbone precision {precision!r}")
    state = weights.backbone_weights()
    model = graph.backbone_model(state) if kind == "features" else graph.backbone_maps_model(state)
    return model.serialize()


def _file(path: str | None) -> bytes:
    with open(path or "", "rb") as source:
        return source.read()


@functools.cache
def identity(kind: str, precision: str) -> str:
    digest = hashlib.sha256(graph_bytes(kind, precision))
    digest.update(ort.__version__.encode())
    return f"{kind}-{precision}-{digest.hexdigest()[:24]}"


class Backbone:
    def __init__(self, precision: str, threads: int):
        """`threads` SERVING_THREADS: adaptive (`Adaptive`)."""
        self.precision = precision
        self.identity = identity("features", precision)
        model = graph_bytes("features", precision)
        self._session: Adaptive | ort.InferenceSession = (  # thread-safe
            serving_session(model) if threads == SERVING_THREADS else session(model, threads)
        )

    def embed(self, arrays: list[np.ndarray]) -> np.ndarray:
        """features [N, 2560] for uint8 images [H, W, 3] of one size."""
        if not arrays:
            return np.zeros((0, graph.FEATURES), np.float32)
        out = []
        for start in range(0, len(arrays), BATCH):
            batch = np.stack(arrays[start : start + BATCH])
            out.append(self._session.run(["features"], {"image": batch})[0])
        return np.concatenate(out)


def backbone(precision: str = LEGACY_PRECISION, threads: int = TRAINING_THREADS) -> Backbone:
    """The process's backbone for `precision` and `threads` (built once, by one thread: a
    training and a detection starting together do not both build it)."""
    with _once("backbone", precision, threads):
        return _backbone(precision, threads)


@functools.cache  # keyed by the arguments alone, however the caller spelled them
def _backbone(precision: str, threads: int) -> Backbone:
    return Backbone(precision, threads)


def maps_session(
    precision: str = LEGACY_PRECISION, threads: int = TRAINING_THREADS
) -> Adaptive | ort.InferenceSession:
    """The process's feature-map backbone (localisation) for `precision` and `threads`."""
    with _once("maps", precision, threads):
        return _maps_session(precision, threads)


@functools.cache
def _maps_session(precision: str, threads: int) -> Adaptive | ort.InferenceSession:
    model = graph_bytes("maps", precision)
    return serving_session(model) if threads == SERVING_THREADS else session(model, threads)

"""Running models: the loaded model of each running version, and what they predict.

A model is loaded when its version starts (or, after a restart of fakerek, at its first
detection) and dropped when it stops or is deleted. Classification and localisation models share
the backbone sessions of `ml.features`; the ML stack (numpy, onnxruntime) is imported with the
first model, not when the server starts.

What an image gave is kept in a least-recently-used cache bounded by `embedding_cache_mb`, keyed
by the sha256 of the image bytes: a classifier's features under its backbone's identity (shared
by every model on that backbone), a detector's detections under the loaded model. A repeated
image skips decode and backbone; a hit is exactly what a miss computes. Under the memory cache,
a classifier's features are also looked up in, and kept in, the detection store under the cache
directory (`ml.detection_store`, bounded by `detection_store_mb`), which outlives the server: a
rerun in a fresh data directory finds what an earlier server computed. A detector's detections
stay in memory only (they depend on the loaded model, not just on the backbone).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, TypeVar, Union

from fakerek.config import Settings
from fakerek.ml.detection_store import DetectionStore
from fakerek.ml.lru import LruCache

if TYPE_CHECKING:
    import numpy as np

    from fakerek.ml.classifier import Model as Classifier
    from fakerek.ml.detector import DetectorModel

# A loaded model: a classifier (image-level labels) or a detector (labels on boxes).
Model = Union["Classifier", "DetectorModel"]
Computed = TypeVar("Computed")
MB = 1024 * 1024
_tokens = itertools.count(1)


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


@dataclass(frozen=True)
class Loaded:
    """A loaded model and the token that keys what it predicted (unique in the process)."""

    model: Model
    token: int = field(default_factory=lambda: next(_tokens))


class Models:
    def __init__(self, cache_dir: str = "") -> None:
        """`cache_dir`: where the detection store lives ("": nowhere)."""
        self._loaded: dict[int, Loaded] = {}
        self._lock = threading.Lock()
        self.cache = LruCache()
        self.store = DetectionStore(cache_dir)

    def get(self, version_id: int, folder: str) -> Loaded:
        with self._lock:
            loaded = self._loaded.get(version_id)
        if loaded is None:
            loaded = Loaded(load(folder))
            with self._lock:
                loaded = self._loaded.setdefault(version_id, loaded)
        return loaded

    def predict(self, loaded: Loaded, image: bytes, settings: Settings) -> list[Label]:
        """Every label the model gives the image, through the memory cache and the detection
        store (bounded by the settings' `embedding_cache_mb` and `detection_store_mb`)."""
        self.cache.resize(int(settings.embedding_cache_mb * MB))
        stored = Stored(self.store, int(settings.detection_store_mb * MB))
        return predict(loaded, image, self.cache, stored)

    def drop(self, version_id: int) -> None:
        with self._lock:
            self._loaded.pop(version_id, None)

    def reset(self) -> None:
        """Models unloaded; the caches stay (what they hold does not depend on any resource)."""
        with self._lock:
            self._loaded.clear()

    def close(self) -> None:
        self.store.close()


class Stored(NamedTuple):
    """The detection store and its bound now (0: neither read nor written)."""

    store: DetectionStore
    max_bytes: int


def load(folder: str) -> Model:
    from fakerek.ml import classifier, detector  # the ML stack loads with the first model

    with open(os.path.join(folder, "model.json"), encoding="utf-8") as handle:
        task = json.load(handle)["task"]
    if task == "localization":
        return detector.DetectorModel.load(folder)
    return classifier.Model.load(folder)


def predict(
    loaded: Loaded, image: bytes, cache: LruCache | None = None, stored: Stored | None = None
) -> list[Label]:
    """Every label the model gives the image, with its confidence in percent. Raises
    `images.ImageProblem` for an image that cannot be decoded."""
    from fakerek.ml import detector

    model = loaded.model
    thresholds = {label: 100 * t for label, t in model.thresholds.items()}
    if isinstance(model, detector.DetectorModel):
        found = _through(
            cache,
            ("detections", loaded.token),
            image,
            lambda _: model.detect(image),
            lambda detections: 64 + 48 * len(detections),
        )
        return [
            Label(
                d.label,
                100 * d.score,
                (float(d.box[0]), float(d.box[1]), float(d.box[2]), float(d.box[3])),
                thresholds.get(d.label, 50.0),
            )
            for d in found
        ]

    identity = model.backbone_identity

    def embed(digest: bytes) -> np.ndarray:
        if stored is not None:
            found = stored.store.get(identity, digest, stored.max_bytes)
            if found is not None:
                return found  # read-only, as below
        embedded = model.embed([image])
        embedded.setflags(write=False)  # shared through the caches
        if stored is not None:
            stored.store.put(identity, digest, embedded, stored.max_bytes)
        return embedded

    embedded = _through(cache, ("features", identity), image, embed, lambda e: e.nbytes + 64)
    scores = model.scores_of(embedded)[0]
    return [
        Label(label, 100 * float(score), None, thresholds.get(label, 50.0))
        for label, score in zip(model.labels, scores, strict=True)
    ]


def _through(
    cache: LruCache | None,
    scope: tuple[object, ...],
    image: bytes,
    compute: Callable[[bytes], Computed],
    size: Callable[[Computed], int],
) -> Computed:
    """What `compute` gives for `image` (it is handed the image's sha256), from the cache under
    (*scope, sha256) when it holds it, else computed and kept (as long as the cache has room)."""
    digest = hashlib.sha256(image).digest()
    if cache is None or not cache.capacity_bytes:
        return compute(digest)
    key = (*scope, digest)
    found: Computed | None = cache.get(key)
    if found is None:
        found = compute(digest)
        cache.put(key, found, size(found))
    return found

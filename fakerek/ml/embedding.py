"""Embedding a training's images: decoded once, streamed, on every core, through the persisted
cache, with progress in the server log.

Validation must decode every image to prove it whole; for an image-level line the training's
`inspect` decodes it at the backbone's input size and embeds it right away, so the training that
follows finds its vectors ready (`embed`) instead of decoding the image a second time. Images that
validation did not embed (lines with boxes) are fetched, looked up and embedded a chunk at a
time. Memory holds the vectors and one chunk of image bytes, whatever the dataset's size.
Backbone runs use one-thread sessions on as many threads as there are cores (onnxruntime and
Pillow release the GIL): images are independent, so nothing waits inside a run, and an idle
thread sleeps instead of spinning when another process takes a core.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fakerek.domain import images
from fakerek.ml import features, graph
from fakerek.ml.embedding_store import EmbeddingStore, StoreFailed
from fakerek.ml.progress import Progress

log = logging.getLogger("fakerek.training")
Location = tuple[str, str]  # bucket, key
Source = tuple[Location, Callable[[], bytes]]  # where an image is, and what loads its bytes
CHUNK = 64  # images fetched and looked up together
GROUP = 4  # images decoded and embedded by one worker task


def workers(setting: int) -> int:
    """Worker threads for a `training_threads` setting (0: one per core)."""
    return setting if setting > 0 else max(1, os.cpu_count() or 1)


class Embedder:
    """One training's embeddings: `mirrored` adds each image's mirror view (training images; a
    test image uses its first view only)."""

    def __init__(
        self, precision: str, threads: int, store: EmbeddingStore | None, mirrored: bool
    ) -> None:
        self.precision, self.threads, self.store = precision, threads, store
        self.views = 2 if mirrored else 1
        self._backbone: features.Backbone | None = None
        self._fresh: dict[bytes, np.ndarray] = {}  # embedded or recalled during validation
        self._located: dict[Location, bytes] = {}  # what validation read where (its sha256)
        self._pending: list[tuple[bytes, np.ndarray]] = []  # not in the store yet
        self._lock = threading.Lock()  # the store and the lists above
        self._building = threading.Lock()  # the backbone, built once
        self._slots = threading.Semaphore(threads)  # backbone runs at once during validation
        self._progress = Progress(0, "validation")
        self.cached = self.embedded = 0

    @property
    def backbone(self) -> features.Backbone:
        """Built at first use (the ML stack's import and the graph's build, once per process)."""
        with self._building:
            if self._backbone is None:
                started = time.perf_counter()
                self._backbone = features.backbone(self.precision, 1)
                log.debug(
                    "%s backbone ready in %.2f s", self.precision, time.perf_counter() - started
                )
            return self._backbone

    def expect(self, total: int) -> None:
        """Announce how many images validation will inspect (for the progress lines)."""
        self._progress = Progress(total, "validation")

    def inspect(
        self,
        where: Location,
        data: bytes | None,
        box_line: bool,
        limits: images.ImageLimits = images.LIMITS,
    ) -> str | None:
        """Validation's image check (`manifests.training.Inspect`): an image-level line's image
        is decoded at the backbone's size and embedded (or found in the store) at once; the
        training then uses what validation read, as the service trains on the images it
        copied at validation."""
        if box_line:
            return images.check(data, box_line, limits)
        try:
            whole = images.usable_bytes(data, limits)
            digest = hashlib.sha256(whole).digest()
            self._located[where] = digest
            cached = digest in self._fresh or bool(self._recall([digest]))
            if not cached:
                image = images.decode(whole, features.SIZE, limits)
                views = features.views(image, mirrored=self.views == 2)
                with self._slots:  # validation fetches on more threads than there are cores
                    vectors = self.backbone.embed(views)
                self._remember([(digest, vectors)])
        except images.ImageProblem as problem:
            return images.code(problem, box_line, limits)
        with self._lock:
            if cached:
                self._progress.advance(from_the_cache=1)
            else:
                self._progress.advance(embedded=1)
        return None

    def validated(self) -> None:
        """Validation is over: log what it embedded."""
        self._progress.done()

    def embed(self, sources: Sequence[Source], views: int, what: str) -> np.ndarray:
        """Vectors [len(sources), views, FEATURES] of these images (`views` 2: and their mirror
        images, if the embedder is `mirrored`)."""
        self.flush()
        views = min(views, self.views)
        out = np.empty((len(sources), views, graph.FEATURES), np.float32)
        progress = Progress(len(sources), what)
        with ThreadPoolExecutor(self.threads, thread_name_prefix="embed") as pool:
            for start in range(0, len(sources), CHUNK):
                chunk = sources[start : start + CHUNK]
                known = [self._located.get(where) for where, _ in chunk]
                unknown = [k for k, digest in enumerate(known) if digest not in self._fresh]
                loaders = [chunk[k][1] for k in unknown]
                data: dict[int, bytes] = dict(
                    zip(unknown, pool.map(lambda load: load(), loaders), strict=True)
                )
                keys = [
                    digest if k not in data and digest is not None else _sha256(data[k])
                    for k, digest in enumerate(known)
                ]
                found = {key: self._fresh[key] for key in keys if key in self._fresh}
                validated = len(chunk) - len(unknown)
                found.update(self._recall([key for key in keys if key not in found]))
                missing = [k for k, key in enumerate(keys) if key not in found]
                groups = [missing[g : g + GROUP] for g in range(0, len(missing), GROUP)]

                def work(group: list[int], data: dict[int, bytes] = data) -> np.ndarray:
                    arrays = [
                        view
                        for k in group
                        for view in features.views(
                            features.decode(data[k]), mirrored=self.views == 2
                        )
                    ]
                    return self.backbone.embed(arrays).reshape(len(group), self.views, -1)

                for group, vectors in zip(groups, pool.map(work, groups), strict=True):
                    self._remember([(keys[k], v) for k, v in zip(group, vectors, strict=True)])
                    found.update((keys[k], v) for k, v in zip(group, vectors, strict=True))
                for k, key in enumerate(keys):
                    out[start + k] = found[key][:views]
                progress.advance(
                    from_validation=validated,
                    from_the_cache=len(keys) - len(missing) - validated,
                    embedded=len(missing),
                )
        progress.done()
        self.flush()
        return out

    def _recall(self, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        """Vectors of `keys` from the store (kept among the fresh ones)."""
        if self.store is None or not keys:
            return {}
        identity = self.backbone.identity
        with self._lock:
            if self.store is None:  # lost meanwhile
                return {}
            try:
                found = self.store.get_many(identity, keys, self.views)
            except StoreFailed as error:
                self._lose_store(error)
                return {}
            self._fresh.update(found)
            self.cached += len(found)
        return found

    def _lose_store(self, error: StoreFailed) -> None:
        """A store that fails (a full disk, a file removed under it) is dropped for the rest of
        the training, which goes on embedding as without one. Called under `_lock`."""
        log.warning("embedding cache unusable, training goes on without it: %s", error)
        if self.store is not None:
            self.store.close()
            self.store = None

    def _remember(self, entries: list[tuple[bytes, np.ndarray]]) -> None:
        with self._lock:
            self._fresh.update(entries)
            self._pending += entries
            self.embedded += len(entries)
            full = len(self._pending) >= CHUNK
        if full:
            self.flush()

    def flush(self) -> None:
        """Write what was embedded to the store."""
        if self.store is None or not self._pending:
            return
        identity = self.backbone.identity
        with self._lock:
            pending, self._pending = self._pending, []
            if pending and self.store is not None:
                try:
                    self.store.put_many(identity, pending)
                except StoreFailed as error:
                    self._lose_store(error)

    def close(self) -> None:
        """Store what is left, keep the store within its bound, close it."""
        self.flush()
        with self._lock:
            if self.store is not None:
                try:
                    self.store.prune()
                except StoreFailed as error:
                    log.warning("embedding cache not pruned: %s", error)
                self.store.close()
                self.store = None


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()

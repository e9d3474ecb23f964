"""Embedding a training's images: streamed, on every core, through the persisted cache, with
progress in the server log.

Images are fetched, looked up and embedded a chunk at a time, so memory holds one chunk of image
bytes and the vectors, whatever the dataset's size. Decoding and backbone runs go to one worker
thread per core, each running a one-thread session (onnxruntime and Pillow release the GIL):
images are independent, so nothing waits inside a run, and an idle worker sleeps instead of
spinning when another process takes a core.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from fakerek.ml import features, graph
from fakerek.ml.embedding_store import EmbeddingStore

log = logging.getLogger("fakerek.training")
Source = Callable[[], bytes]  # loads one image's bytes
CHUNK = 64  # images fetched and looked up together
GROUP = 4  # images decoded and embedded by one worker task
PROGRESS_SECONDS = 5.0  # how often a long embedding reports progress


def workers(setting: int) -> int:
    """Worker threads for a `training_threads` setting (0: one per core)."""
    return setting if setting > 0 else max(1, os.cpu_count() or 1)


class Embedder:
    def __init__(self, precision: str, threads: int, store: EmbeddingStore | None = None):
        self.backbone = features.backbone(precision, 1)
        self.threads, self.store = threads, store
        self.cached = self.embedded = 0

    def embed(self, sources: Sequence[Source], mirrored: bool, what: str) -> np.ndarray:
        """Vectors [len(sources), views, FEATURES]: each image, and its mirror if `mirrored`."""
        views = 2 if mirrored else 1
        out = np.empty((len(sources), views, graph.FEATURES), np.float32)
        progress = _Progress(len(sources), what)
        with ThreadPoolExecutor(self.threads, thread_name_prefix="embed") as pool:
            for start in range(0, len(sources), CHUNK):
                chunk = range(start, min(len(sources), start + CHUNK))
                data = list(pool.map(lambda index: sources[index](), chunk))
                keys = [hashlib.sha256(image).digest() for image in data]
                found = self._lookup(keys, views)
                missing = [k for k, key in enumerate(keys) if key not in found]
                groups = [missing[g : g + GROUP] for g in range(0, len(missing), GROUP)]

                def work(group: list[int], data: list[bytes] = data) -> np.ndarray:
                    arrays = [
                        view
                        for k in group
                        for view in features.views(features.decode(data[k]), mirrored=mirrored)
                    ]
                    return self.backbone.embed(arrays).reshape(len(group), views, -1)

                for group, vectors in zip(groups, pool.map(work, groups), strict=True):
                    out[[start + k for k in group]] = vectors
                for k, key in enumerate(keys):
                    if key in found:
                        out[start + k] = found[key]
                self._keep([(keys[k], out[start + k]) for k in missing])
                self.cached += len(keys) - len(missing)
                self.embedded += len(missing)
                progress.advance(len(keys), len(keys) - len(missing))
        progress.done()
        return out

    def _lookup(self, keys: list[bytes], views: int) -> dict[bytes, np.ndarray]:
        if self.store is None:
            return {}
        return self.store.get_many(self.backbone.identity, keys, views)

    def _keep(self, entries: list[tuple[bytes, np.ndarray]]) -> None:
        if self.store is not None and entries:
            self.store.put_many(self.backbone.identity, entries)


class _Progress:
    """Logs images embedded / total and the rate, every PROGRESS_SECONDS and at the end."""

    def __init__(self, total: int, what: str):
        self.total, self.what = total, what
        self.done_count = self.cached = 0
        self.started = self.reported = time.monotonic()

    def advance(self, count: int, cached: int) -> None:
        self.done_count += count
        self.cached += cached
        now = time.monotonic()
        if now - self.reported >= PROGRESS_SECONDS and self.done_count < self.total:
            self.reported = now
            self._log("embedding")

    def done(self) -> None:
        self._log("embedded")

    def _log(self, verb: str) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        log.info(
            "%s %s: %d/%d images (%d from the cache), %.0f images/s",
            verb,
            self.what,
            self.done_count,
            self.total,
            self.cached,
            self.done_count / elapsed,
        )

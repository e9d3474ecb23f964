"""Classifiers' detection features kept under the cache directory (`--cache-dir`), shared by every
data directory of the machine, so that a server meeting images an earlier server embedded (a CI
rerun in a fresh data directory) skips decode and backbone.

It is an `EmbeddingStore` (`detections.sqlite`) keyed as serving's memory cache is, by the
backbone's identity and the sha256 of the image bytes, so a hit is exactly what a miss computes;
its guarantees hold (checksums checked on every read, a damaged entry ignored and deleted, a file
that cannot be opened set aside). Only classifiers' features are kept: a detector's detections
depend on its loaded model, which nothing here names; serving's memory cache keeps those.

A lookup is one SELECT on a connection of its own. Everything else goes behind: a computed
vector, the use of a hit and the deletion of a damaged entry are queued, and a thread writes what
queued in one transaction on a second connection, then prunes to the bound if the file may have
outgrown it. A first-seen detection thus pays no commit, and a lookup never waits for a writer
(another server's included). A crash loses only what was still queued, which the next miss
computes again. The file opens with the first lookup and closes, queue written, with the server;
like serving, this module imports nothing heavy until then.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from fakerek.ml.embedding_store import EmbeddingStore

log = logging.getLogger("fakerek.ml")
FILE_NAME = "detections.sqlite"
GATHER_SECONDS = 0.2  # the writer waits this long after a first queued entry for others
BATCH = 256  # or until this many are queued


@dataclass
class _Queue:
    vectors: dict[tuple[str, bytes], np.ndarray] = field(default_factory=dict)
    used: set[tuple[str, bytes]] = field(default_factory=set)
    damaged: set[tuple[str, bytes]] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.vectors) + len(self.used) + len(self.damaged)


@dataclass
class Counts:
    """What the store did since it opened (logged when it closes)."""

    hits: int = 0
    misses: int = 0
    written: int = 0


class DetectionStore:
    def __init__(self, cache_dir: str):
        self.path = os.path.join(cache_dir, FILE_NAME) if cache_dir else ""
        self.counts = Counts()
        self._max_bytes = 0
        self._reader: EmbeddingStore | None = None
        self._writer: EmbeddingStore | None = None
        self._thread: threading.Thread | None = None
        self._failed = not cache_dir
        self._open_lock = threading.Lock()
        self._read_lock = threading.Lock()  # a connection serves one call at a time
        self._queue = _Queue()
        self._wake = threading.Condition()
        self._closing = False
        self._stored_bytes = 0  # the vectors' bytes in the file, as far as this process knows
        self._store_failed: type[Exception] = OSError  # the store's error, once it is imported

    def _open(self, max_bytes: int) -> EmbeddingStore | None:
        """The reader connection, the file and its writer opened at the first call; None when
        there is no cache directory or the file cannot be opened (then no more tries)."""
        self._max_bytes = max_bytes
        if self._failed or self._reader is not None:
            return None if self._failed else self._reader
        from fakerek.ml.embedding_store import EmbeddingStore, StoreFailed

        with self._open_lock:
            if self._reader is None and not self._failed and not self._closing:
                self._store_failed = StoreFailed
                try:
                    os.makedirs(os.path.dirname(self.path), exist_ok=True)
                    self._writer = EmbeddingStore(self.path, max_bytes)  # sets a bad file aside
                    self._reader = EmbeddingStore(self.path, max_bytes)
                    self._stored_bytes = self._writer.size_bytes()
                except (StoreFailed, OSError) as error:
                    log.warning("detection store %s unavailable: %s", self.path, error)
                    self._failed = True
                    if self._writer is not None:
                        self._writer.close()
                    return None
                self._thread = threading.Thread(
                    target=self._write_behind, name="fakerek-detection-store", daemon=True
                )
                self._thread.start()
        return self._reader

    def get(self, backbone: str, image: bytes, max_bytes: int) -> np.ndarray | None:
        """The stored features [1, FEATURES] of `image` (its sha256) under `backbone`, or None
        (also when the store is off: `max_bytes` 0)."""
        reader = self._open(max_bytes) if max_bytes > 0 else None
        if reader is None:
            return None
        try:
            with self._read_lock:
                found, damaged = reader.read_many(backbone, [image], 1)
        except self._store_failed as error:
            log.warning("detection store %s unreadable: %s", self.path, error)
            return None
        vectors = found.get(image)
        with self._wake:
            if vectors is None:
                self.counts.misses += 1
            else:
                self.counts.hits += 1
                self._queue.used.add((backbone, image))
            self._queue.damaged.update((backbone, d) for d in damaged)
            self._wake.notify()
        return vectors

    def put(self, backbone: str, image: bytes, vectors: np.ndarray, max_bytes: int) -> None:
        """Queue `image`'s features for the writer (nothing when the store is off)."""
        if max_bytes <= 0 or self._open(max_bytes) is None:
            return
        with self._wake:
            self._queue.vectors[(backbone, image)] = vectors
            self._wake.notify()

    def _write_behind(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: len(self._queue) > 0 or self._closing)
                if not self._closing:
                    self._wake.wait_for(
                        lambda: len(self._queue) >= BATCH or self._closing, GATHER_SECONDS
                    )
                queue, self._queue = self._queue, _Queue()
                closing = self._closing
            self._write(queue)
            if closing:
                return

    def _write(self, queue: _Queue) -> None:
        writer = self._writer
        if writer is None or (not len(queue) and self._stored_bytes <= self._max_bytes):
            return
        try:
            for backbone in {key[0] for key in [*queue.vectors, *queue.used, *queue.damaged]}:
                writer.mark(
                    backbone,
                    [image for b, image in queue.used if b == backbone],
                    [image for b, image in queue.damaged if b == backbone],
                )
                entries = [(image, v) for (b, image), v in queue.vectors.items() if b == backbone]
                writer.put_many(backbone, entries)
                self.counts.written += len(entries)
                self._stored_bytes += sum(v.nbytes for _, v in entries)
            if self._stored_bytes > self._max_bytes:  # may be: replaced entries count twice
                writer.max_bytes = self._max_bytes
                writer.prune()
                self._stored_bytes = writer.size_bytes()
        except self._store_failed as error:
            log.warning("detection store %s not written: %s", self.path, error)

    def close(self) -> None:
        """Write what is queued, keep to the bound, close; later calls find the store off."""
        with self._open_lock, self._wake:
            self._closing = True
            self._failed = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()
        with self._read_lock:
            for store in (self._reader, self._writer):
                if store is not None:
                    store.close()
        if self._reader is not None:
            counts = self.counts
            log.info(
                "detection store %s: %d hits, %d misses, %d entries written",
                self.path,
                counts.hits,
                counts.misses,
                counts.written,
            )
        self._reader = self._writer = None

"""What the backbone made of training images, kept under the data directory across trainings.

A retraining on known images (a new version after a tweak, a CI run per commit) then fits only
the head. Entries are keyed by the backbone's identity and the sha256 of the image bytes, so a hit
is exactly what the backbone would compute again.

Safe under crashes: entries are written in SQLite transactions (a crash leaves the entry whole or
absent), and each carries a checksum of its vectors that is checked on every read, so a damaged
entry is ignored (and deleted), never used; a database that cannot be opened is set aside and
started afresh. Bounded: after each training the least recently used entries go until the vectors
fit `max_bytes`. Deleting the file at any time, server running or not, only costs the next
training its embedding time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import time
from collections.abc import Sequence

import numpy as np

from fakerek.ml import graph

log = logging.getLogger("fakerek.training")
FILE_NAME = "embeddings.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    backbone TEXT NOT NULL,
    image BLOB NOT NULL,
    views INTEGER NOT NULL,
    vectors BLOB NOT NULL,
    checksum BLOB NOT NULL,
    used INTEGER NOT NULL,
    UNIQUE (backbone, image)
);
CREATE INDEX IF NOT EXISTS embeddings_used ON embeddings (used);
"""
_QUERY_CHUNK = 400  # keys per SELECT: under SQLite's limit of bound parameters
# What a method of a store may raise when its file fails (a full disk, a file removed under it).
StoreFailed = sqlite3.Error


def checksum(vectors: bytes) -> bytes:
    return hashlib.blake2b(vectors, digest_size=16).digest()


class EmbeddingStore:
    def __init__(self, path: str, max_bytes: int):
        self.path, self.max_bytes = path, max_bytes
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as error:
            log.warning("embedding cache %s unreadable (%s): starting a new one", path, error)
            os.replace(path, f"{path}.unreadable")
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )  # callers serialise their calls
        db.execute("PRAGMA auto_vacuum = INCREMENTAL")  # takes effect on a new file
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.executescript(_SCHEMA)
        db.execute("SELECT count(*) FROM embeddings").fetchone()  # a corrupt file fails here
        return db

    @classmethod
    def in_data_dir(cls, data_dir: str, max_bytes: int) -> EmbeddingStore | None:
        """The data directory's store, or None when it is disabled (`max_bytes` 0) or cannot
        be opened (the training then embeds every image, as without a cache)."""
        if max_bytes <= 0:
            return None
        try:
            return cls(os.path.join(data_dir, FILE_NAME), max_bytes)
        except (StoreFailed, OSError) as error:
            log.warning("embedding cache unavailable: %s", error)
            return None

    def get_many(
        self, backbone: str, images: Sequence[bytes], views: int
    ) -> dict[bytes, np.ndarray]:
        """The stored vectors [views, FEATURES] of those `images` (sha256 digests) that have at
        least `views` views stored and whose checksum holds (marked as used now); entries that
        fail it are deleted."""
        found, damaged = self.read_many(backbone, images, views)
        self.mark(backbone, list(found), damaged)
        return found

    def read_many(
        self, backbone: str, images: Sequence[bytes], views: int
    ) -> tuple[dict[bytes, np.ndarray], list[bytes]]:
        """What `get_many` finds, and the digests of the damaged entries, without writing: the
        caller marks them (`mark`), maybe later and from another connection."""
        found: dict[bytes, np.ndarray] = {}
        damaged = []
        width = graph.FEATURES * 4
        for start in range(0, len(images), _QUERY_CHUNK):
            chunk = list(images[start : start + _QUERY_CHUNK])
            rows = self._db.execute(
                "SELECT image, views, vectors, checksum FROM embeddings "
                f"WHERE backbone = ? AND image IN ({','.join('?' * len(chunk))})",
                [backbone, *chunk],
            ).fetchall()
            for image, stored_views, vectors, digest in rows:
                if len(vectors) != stored_views * width or checksum(vectors) != digest:
                    damaged.append(image)
                elif stored_views >= views:
                    found[image] = np.frombuffer(vectors, np.float32).reshape(stored_views, -1)[
                        :views
                    ]
        return found, damaged

    def mark(self, backbone: str, used: Sequence[bytes], damaged: Sequence[bytes]) -> None:
        """In one transaction: the `used` entries are marked as used now, the `damaged` ones
        deleted."""
        if not used and not damaged:
            return
        now = time.time_ns()
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "DELETE FROM embeddings WHERE backbone = ? AND image = ?",
                [(backbone, image) for image in damaged],
            )
            self._db.executemany(
                "UPDATE embeddings SET used = ? WHERE backbone = ? AND image = ?",
                [(now, backbone, image) for image in used],
            )
        if damaged:
            log.warning("%s: ignored and deleted %d damaged entries", self.path, len(damaged))

    def put_many(self, backbone: str, entries: Sequence[tuple[bytes, np.ndarray]]) -> None:
        """Store vectors [views, FEATURES] by image digest, in one transaction."""
        now = time.time_ns()
        rows = []
        for image, vectors in entries:
            raw = np.ascontiguousarray(vectors, np.float32).tobytes()
            rows.append((backbone, image, len(vectors), raw, checksum(raw), now))
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO embeddings (backbone, image, views, vectors, checksum, "
                "used) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    def prune(self) -> int:
        """Delete the least recently used entries until the vectors fit `max_bytes`; returns how
        many went."""
        total = self._db.execute("SELECT coalesce(sum(length(vectors)), 0) FROM embeddings")
        if total.fetchone()[0] <= self.max_bytes:
            return 0
        kept, doomed = 0, []
        for rowid, size in self._db.execute(
            "SELECT rowid, length(vectors) FROM embeddings ORDER BY used DESC"
        ):
            kept += size
            if kept > self.max_bytes:
                doomed.append((rowid,))
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany("DELETE FROM embeddings WHERE rowid = ?", doomed)
        self._db.execute("PRAGMA incremental_vacuum")
        return len(doomed)

    def size_bytes(self) -> int:
        row = self._db.execute("SELECT coalesce(sum(length(vectors)), 0) FROM embeddings")
        return int(row.fetchone()[0])

    def close(self) -> None:
        self._db.close()

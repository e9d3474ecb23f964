"""Finished trainings kept under the cache directory (`--cache-dir`), shared by every data
directory of the machine, so that a training on inputs trained on before (a CI rerun in a fresh
data directory) writes the same files without computing them.

An entry is one file, `models/<key>.model`, named by the digest of everything that determines the
training (`jobs.cached_training` derives it): a short JSON description and named blobs (the
model's files, the artefact templates). Its first 32 bytes are the SHA-256 of the rest, checked on
every read: a damaged or truncated entry is ignored and deleted, never used. It is written under a
temporary name and renamed, so a reader sees a whole entry or none. An entry's modification time
is its last use; after each store the least recently used entries go until the directory fits
`max_bytes`. Deleting the directory or any entry, server running or not, only costs the next
training its compute. Nothing here knows what an entry means.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("fakerek.training")
FOLDER = "models"
SUFFIX = ".model"
_MAGIC = b"fakerek model cache 1\n"
_STALE_TEMPORARY = 3600  # seconds  # a writer that crashed left it


class DamagedEntry(ValueError):
    """An entry's bytes are not an entry's."""


@dataclass(frozen=True)
class Entry:
    """What a training left: `meta` is JSON-serialisable, `blobs` are named bytes in order."""

    meta: dict[str, Any]
    blobs: dict[str, bytes]

    def encode(self) -> bytes:
        header = json.dumps(
            {"meta": self.meta, "blobs": [[name, len(data)] for name, data in self.blobs.items()]},
            separators=(",", ":"),
        ).encode()
        body = b"".join([_MAGIC, len(header).to_bytes(8, "big"), header, *self.blobs.values()])
        return hashlib.sha256(body).digest() + body

    @classmethod
    def decode(cls, stored: bytes) -> Entry:
        digest, body = stored[:32], memoryview(stored)[32:]
        if hashlib.sha256(body).digest() != digest or not body[: len(_MAGIC)] == _MAGIC:
            raise DamagedEntry("checksum or format")
        at = len(_MAGIC) + 8
        size = int.from_bytes(body[len(_MAGIC) : at], "big")
        try:
            header = json.loads(bytes(body[at : at + size]))
            meta, names = header["meta"], header["blobs"]
            at += size
            blobs = {}
            for name, length in names:
                blobs[str(name)] = bytes(body[at : at + length])
                at += length
        except (ValueError, KeyError, TypeError) as error:
            raise DamagedEntry(str(error)) from None
        if at != len(body) or not isinstance(meta, dict):
            raise DamagedEntry("length")
        return cls(meta, blobs)


class ModelCache:
    def __init__(self, cache_dir: str, max_bytes: int):
        self.directory = os.path.join(cache_dir, FOLDER)
        self.max_bytes = max_bytes

    @classmethod
    def of(cls, cache_dir: str, max_bytes: int) -> ModelCache | None:
        """The cache, or None when there is no cache directory or no room (`max_bytes` 0)."""
        return cls(cache_dir, max_bytes) if cache_dir and max_bytes > 0 else None

    def _path(self, key: str) -> str:
        return os.path.join(self.directory, key + SUFFIX)

    def get(self, key: str) -> Entry | None:
        """The entry stored under `key` if it is there and whole (then marked as used now); a
        damaged one is deleted."""
        path = self._path(key)
        try:
            with open(path, "rb") as stored:
                entry = Entry.decode(stored.read())
        except FileNotFoundError:
            return None
        except DamagedEntry as error:
            log.warning("model cache: %s is damaged (%s): ignored and deleted", path, error)
            self._remove(path)
            return None
        except OSError as error:
            log.warning("model cache: %s unreadable: %s", path, error)
            return None
        with contextlib.suppress(OSError):  # deleted meanwhile: what was read is whole
            os.utime(path)
        return entry

    def put(self, key: str, entry: Entry) -> None:
        """Store `entry` under `key` (an entry larger than the whole bound is not kept), then
        keep within the bound. A cache that cannot be written only logs."""
        data = entry.encode()
        if len(data) > self.max_bytes:
            log.info("model cache: an entry of %d bytes exceeds the bound: not kept", len(data))
            return
        temporary = None
        try:
            os.makedirs(self.directory, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                dir=self.directory, prefix=".", suffix=".tmp", delete=False
            ) as handle:
                temporary = handle.name
                handle.write(data)
            os.replace(temporary, self._path(key))
        except OSError as error:
            log.warning("model cache: cannot keep an entry in %s: %s", self.directory, error)
            if temporary is not None:
                self._remove(temporary)
            return
        self.prune()

    def prune(self) -> int:
        """Delete the least recently used entries until the rest fit `max_bytes` (and temporary
        files a crashed writer left); returns how many entries went."""
        kept, removed = 0, 0
        for _, size, path in sorted(self._entries(sweep=True), reverse=True):
            kept += size
            if kept > self.max_bytes:
                self._remove(path)
                removed += 1
        return removed

    def size_bytes(self) -> int:
        return sum(size for _, size, _ in self._entries())

    def _entries(self, sweep: bool = False) -> list[tuple[int, int, str]]:
        """(last use in ns, size, path) of every entry; `sweep` also deletes old temporary
        files."""
        found = []
        now = time.time()
        try:
            listing = list(os.scandir(self.directory))
        except OSError:
            return []
        for item in listing:
            try:
                stat = item.stat()
            except OSError:
                continue  # deleted meanwhile
            if item.name.endswith(SUFFIX):
                found.append((stat.st_mtime_ns, stat.st_size, item.path))
            elif sweep and item.name.endswith(".tmp") and now - stat.st_mtime > _STALE_TEMPORARY:
                self._remove(item.path)
        return found

    @staticmethod
    def _remove(path: str) -> None:
        with contextlib.suppress(OSError):
            os.remove(path)

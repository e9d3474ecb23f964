"""Backbone graphs that are slow to derive (the int8 ones: about 0.4 s to calibrate each), kept in
a directory shared by every fakerek of the machine, so that a new process or data directory does
not derive them again.

A file is named by the digest of everything its graph is derived from (the weights file, the
calibration photos, the code that reads, builds, quantises and writes it, and the versions of
onnxruntime, numpy and Pillow), so a stale file is never read. Its first 32 bytes are the
SHA-256 of the rest: a damaged file is rebuilt. It is written under a temporary name and
renamed, so a reader sees a whole file or none. Deleting the directory is always safe. This
module imports nothing heavy: the server configures it at start-up.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterable

log = logging.getLogger("fakerek.ml")
_directory: str | None = None


def configure(directory: str | None) -> None:
    """Where derived graphs are kept; None or "" keeps none."""
    global _directory
    _directory = directory or None


def cached(derived_from: Iterable[bytes], build: Callable[[], bytes], suffix: str) -> bytes:
    """The bytes `build()` returns, read from the cache when a file derived from the same inputs
    is there and whole; otherwise built and stored."""
    if _directory is None:
        return build()
    key = hashlib.sha256()
    for part in derived_from:
        key.update(len(part).to_bytes(8, "big"))
        key.update(part)
    path = os.path.join(_directory, f"{key.hexdigest()}{suffix}")
    try:
        with open(path, "rb") as stored:
            digest, payload = stored.read(32), stored.read()
        if hashlib.sha256(payload).digest() == digest:
            return payload
        log.warning("%s is damaged: it is built again", path)
    except OSError:
        pass
    payload = build()
    try:
        os.makedirs(_directory, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=_directory, delete=False) as tmp:
            tmp.write(hashlib.sha256(payload).digest() + payload)
        os.replace(tmp.name, path)
    except OSError as error:
        log.warning("cannot keep a derived graph in %s: %s", _directory, error)
    return payload

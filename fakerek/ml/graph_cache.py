"""Backbone graphs that are slow to derive (the int8 ones: about 0.4 s to calibrate each), kept in
a directory shared by every fakerek of the machine, so that a new process or data directory does
not derive them again.

A file is named by the digest of everything its graph is derived from (the weights file, the
calibration photos, the code that reads, builds, quantises and writes it, and the versions of
onnxruntime, numpy and Pillow), so a stale file is never read. Its first 32 bytes are the
SHA-256 of the rest: a damaged file is rebuilt. It is written under a temporary name and
renamed, so a reader sees a whole file or none. Deleting the directory is always safe. This
module imports nothing heavy.

Each application names its directory (`use`) while it is open. A graph is derived once per process
(the weights are the same for every application), so a derivation looks in the directories of all
open applications and stores what it built in each.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterable

log = logging.getLogger("fakerek.ml")
_directories: list[str] = []  # one entry per open application that keeps graphs
_lock = threading.Lock()


def use(directory: str | None) -> Callable[[], None]:
    """Keep derived graphs in `directory` (None or "": nowhere) until the function returned is
    called (when the application closes)."""
    if not directory:
        return lambda: None
    with _lock:
        _directories.append(directory)
    released = threading.Event()

    def release() -> None:
        with _lock:
            if not released.is_set():
                released.set()
                _directories.remove(directory)

    return release


def cached(derived_from: Iterable[bytes], build: Callable[[], bytes], suffix: str) -> bytes:
    """The bytes `build()` returns, read from a directory in use when a file derived from the
    same inputs is there and whole; otherwise built and stored in each."""
    with _lock:
        directories = list(dict.fromkeys(_directories))
    if not directories:
        return build()
    key = hashlib.sha256()
    for part in derived_from:
        key.update(len(part).to_bytes(8, "big"))
        key.update(part)
    name = f"{key.hexdigest()}{suffix}"
    for directory in directories:
        path = os.path.join(directory, name)
        try:
            with open(path, "rb") as stored:
                digest, payload = stored.read(32), stored.read()
            if hashlib.sha256(payload).digest() == digest:
                return payload
            log.warning("%s is damaged: it is built again", path)
        except OSError:
            pass
    payload = build()
    for directory in directories:
        _keep(directory, name, payload)
    return payload


def _keep(directory: str, name: str, payload: bytes) -> None:
    try:
        os.makedirs(directory, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, delete=False) as tmp:
            tmp.write(hashlib.sha256(payload).digest() + payload)
        os.replace(tmp.name, os.path.join(directory, name))
    except OSError as error:
        log.warning("cannot keep a derived graph in %s: %s", directory, error)

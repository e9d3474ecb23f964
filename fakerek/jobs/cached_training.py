"""A training's outcome in the model cache (`ml.model_cache`): what determines it, writing a
kept outcome into a new version instead of computing it, and keeping a computed one.

Training is deterministic: its outcome is a function of its inputs. An entry is found by the
digest (its key) of

* the training and test lines as given, and whether the test set is split off automatically
  (validation, its artefacts included, is a function of these and of the images);
* the settings that change the outcome: the backbone's precision, whether the training images
  are mirrored (`mirror_max_images` against their count), the validation limits and the denied
  buckets (`training_threads` and the embedding store change only speed);
* the code: every file of fakerek's `ml`, `manifests` and `domain` packages, `jobs/training.py`
  and this module; the versions of Python, onnxruntime, numpy and Pillow; the machine's
  architecture and CPU features (onnxruntime's int8 kernels differ between CPUs);

and it records the sha256 of every image the training read (or its absence) and the backbone's
identity (its graph's bytes and onnxruntime), which a lookup checks against the images and the
backbone as they are now before it uses the entry. The same lines, settings and code make a
training read the same images; if those hold the same bytes, it computes the same outcome. So a
miss reads nothing more than the training does, and a lookup without an entry builds no graph.

What names the version (its ARN, its project's and its own name, the OutputConfig bucket and
prefix) and the time never enter an entry: artefacts are kept as the templates `Outputs.render`
fills, their locations in the results as stems. So a hit writes exactly what a compute would:
the model's files byte for byte, each artefact rendered for the new version.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import platform
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from fakerek.manifests.artefacts import Outputs
from fakerek.manifests.training import OBJECT_LOCALIZATION, TrainingLimits
from fakerek.ml.model_cache import Entry, ModelCache

log = logging.getLogger("fakerek.training")
FORMAT = b"1"  # of what an entry holds and how the key is digested
CODE = ("ml", "manifests", "domain", "jobs/training.py", "jobs/cached_training.py")
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARTEFACT = "Artefact"  # a location in an entry's results: {"Artefact": stem}
Location = tuple[str, str]  # bucket, key
Fetch = Callable[[str, str], "bytes | None"]
Write = Callable[[str, str], dict[str, Any]]  # (key, template) → location


class Determinants(NamedTuple):
    """The settings a training's outcome depends on."""

    precision: str
    mirrored: bool
    limits: TrainingLimits
    denied: frozenset[str]


def _part(digest: Any, data: bytes) -> None:
    digest.update(len(data).to_bytes(8, "big"))
    digest.update(data)


@functools.cache
def _code() -> bytes:
    """The digest of the code that shapes a training (read once per process)."""
    digest = hashlib.sha256()
    for part in CODE:
        path = os.path.join(_PACKAGE, part)
        files = [path]
        if os.path.isdir(path):
            files = []
            for folder, folders, names in os.walk(path):
                folders[:] = sorted(f for f in folders if f != "__pycache__")
                files += [os.path.join(folder, n) for n in sorted(names) if not n.endswith(".pyc")]
        for file in files:
            _part(digest, os.path.relpath(file, _PACKAGE).encode())
            with open(file, "rb") as source:
                _part(digest, source.read())
    return digest.digest()


@functools.cache
def _platform() -> bytes:
    """What runs the code: Python and the libraries that compute, the machine and its CPU."""
    import numpy
    import onnxruntime
    import PIL

    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "")
    except OSError:
        flags = platform.processor()
    return json.dumps(
        [
            platform.python_version(),
            onnxruntime.__version__,
            numpy.__version__,
            PIL.__version__,
            sys.platform,
            platform.machine(),
            flags.strip(),
        ]
    ).encode()


def key_of(
    train_texts: Sequence[str], test_texts: Sequence[str] | None, determinants: Determinants
) -> str:
    """The digest of the lines, settings and code a training's outcome is computed from."""
    digest = hashlib.sha256()
    for part in (
        FORMAT,
        _code(),
        _platform(),
        json.dumps(
            [
                determinants.precision,
                determinants.mirrored,
                repr(determinants.limits),
                sorted(determinants.denied),
                len(train_texts),
                None if test_texts is None else len(test_texts),
            ]
        ).encode(),
        *(text.encode("utf-8", "surrogatepass") for text in train_texts),
        *(text.encode("utf-8", "surrogatepass") for text in test_texts or ()),
    ):
        _part(digest, part)
    return digest.hexdigest()


def look_up(
    cache: ModelCache | None,
    train_texts: Sequence[str],
    test_texts: Sequence[str] | None,
    fetch: Fetch,
    determinants: Determinants,
) -> Lookup:
    """The training's entry, if the cache has one made from the images as they are now and on
    this backbone."""
    if cache is None:
        return Lookup(None, "", fetch, None)
    key = key_of(train_texts, test_texts, determinants)
    entry = cache.get(key)
    if entry is not None and not _usable(entry, determinants.precision, fetch):
        entry = None  # computed again, and replaced
    return Lookup(cache, key, fetch, entry)


def _digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _same_images(recorded: Any, fetch: Fetch) -> bool:
    """Whether every image the entry's training read has the same bytes (or absence) now."""
    if not isinstance(recorded, list) or not all(
        isinstance(item, list) and len(item) == 3 for item in recorded
    ):
        return False

    def same(item: list[object]) -> bool:
        bucket, key, digest = item
        return _digest(fetch(str(bucket), str(key))) == digest

    with ThreadPoolExecutor(8) as pool:
        return all(pool.map(same, recorded))


def _kind(use_case: str) -> str:
    """The backbone graph a use case trains on."""
    return "maps" if use_case == OBJECT_LOCALIZATION else "features"


def _identity(use_case: str, precision: str) -> str:
    from fakerek.ml import features

    return features.identity(_kind(use_case), precision)


def _usable(entry: Entry, precision: str, fetch: Fetch) -> bool:
    """Whether the entry holds what a restore writes and was made from the images as they are
    now, on this backbone."""
    use_case, results = entry.meta.get("use_case"), entry.meta.get("results")
    if not isinstance(use_case, str) or not isinstance(results, dict):
        return False
    models = [name.removeprefix("model/") for name in entry.blobs if name.startswith("model/")]
    whole = (
        all(f"artefact/{stem}" in entry.blobs for stem in _stems_in(results))
        and bool(models)
        and all(_file_name(name) for name in models)
    )
    if not whole:
        return False
    if not _same_images(entry.meta.get("images"), fetch):
        log.info("model cache: an image changed since the entry was made")
        return False
    return entry.meta.get("backbone") == _identity(use_case, precision)


class Lookup:
    """One training's key and its entry, if the cache has one."""

    def __init__(self, cache: ModelCache | None, key: str, fetch: Fetch, entry: Entry | None):
        self.cache, self.key, self.entry, self._fetch = cache, key, entry, fetch
        self._read: dict[Location, str | None] = {}  # the digest of each image the training read
        self._lock = threading.Lock()
        self.changed = False  # an image read twice differed

    def fetch(self, bucket: str, key: str) -> bytes | None:
        """An image as the training reads it; its digest is recorded for the entry."""
        data = self._fetch(bucket, key)
        if self.cache is not None:
            digest = _digest(data)
            with self._lock:
                if self._read.setdefault((bucket, key), digest) != digest:
                    self.changed = True
        return data

    def restore(self, outputs: Outputs, folder: str, write: Write, results: dict[str, Any]) -> bool:
        """On a hit: the model's files into `folder`, each artefact rendered through `write`,
        `results` as the computed training recorded them; False on a miss."""
        if self.entry is None:
            return False
        blobs = self.entry.blobs
        os.makedirs(folder, exist_ok=True)
        for name, data in blobs.items():
            if name.startswith("model/"):
                _write_file(folder, name.removeprefix("model/"), data)
        templates = {
            name.removeprefix("artefact/"): data.decode("utf-8", "surrogatepass")
            for name, data in blobs.items()
            if name.startswith("artefact/")
        }

        def location(stem: str) -> dict[str, Any]:
            return write(outputs.key_of(stem), templates.pop(stem))

        for name, value in self.entry.meta["results"].items():
            results[name] = _located(value, location)
        for stem in list(templates):  # written but not named in the results
            location(stem)
        log.info("the training's model and artefacts come from the model cache (%s)", self.key)
        return True

    def keep(
        self,
        outputs: Outputs,
        folder: str,
        results: dict[str, Any],
        use_case: str,
        precision: str,
    ) -> None:
        """After a computed training: its outcome into the cache, unless an image changed
        while it ran."""
        if self.cache is None or self.entry is not None:
            return
        if self.changed:
            log.info("an image changed during the training: the model cache keeps nothing")
            return
        blobs = {
            "artefact/" + outputs.stem(key): template.encode("utf-8", "surrogatepass")
            for key, template in outputs.templates.items()
        }
        try:
            for name in sorted(os.listdir(folder)):
                with open(os.path.join(folder, name), "rb") as handle:
                    blobs["model/" + name] = handle.read()
        except OSError as error:
            log.warning("model cache: the model's files cannot be read: %s", error)
            return
        with self._lock:
            images = [[b, k, digest] for (b, k), digest in sorted(self._read.items())]
        meta = {
            "use_case": use_case,
            "images": images,
            "backbone": _identity(use_case, precision),
            "results": _stemmed(results, outputs),
        }
        self.cache.put(self.key, Entry(meta, blobs))


def _stemmed(value: Any, outputs: Outputs) -> Any:
    """`value` (results) with the location of each artefact `outputs` rendered as its stem."""
    if isinstance(value, dict):
        s3 = value.get("S3Object")
        if (
            set(value) == {"S3Object"}
            and isinstance(s3, dict)
            and set(s3) == {"Bucket", "Name"}
            and s3["Bucket"] == outputs.bucket
            and s3["Name"] in outputs.templates
        ):
            return {ARTEFACT: outputs.stem(s3["Name"])}
        return {name: _stemmed(item, outputs) for name, item in value.items()}
    if isinstance(value, list):
        return [_stemmed(item, outputs) for item in value]
    return value


def _stems_in(value: Any) -> list[str]:
    if isinstance(value, dict):
        if set(value) == {ARTEFACT}:
            return [str(value[ARTEFACT])]
        return [stem for item in value.values() for stem in _stems_in(item)]
    if isinstance(value, list):
        return [stem for item in value for stem in _stems_in(item)]
    return []


def _located(value: Any, location: Callable[[str], dict[str, Any]]) -> Any:
    """The inverse of `_stemmed`: each stem written, and replaced by its location."""
    if isinstance(value, dict):
        if set(value) == {ARTEFACT}:
            return location(value[ARTEFACT])
        return {name: _located(item, location) for name, item in value.items()}
    if isinstance(value, list):
        return [_located(item, location) for item in value]
    return value


def _file_name(name: str) -> bool:
    """A name that stays in the model's folder."""
    return bool(name) and name == os.path.basename(name) and not name.startswith(".")


def _write_file(folder: str, name: str, data: bytes) -> None:
    """One model file, whole or not at all."""
    path = os.path.join(folder, name)
    with open(f"{path}.tmp", "wb") as handle:
        handle.write(data)
    os.replace(f"{path}.tmp", path)

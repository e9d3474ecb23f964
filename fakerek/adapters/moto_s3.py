"""moto's S3, reached only through here: its WSGI app, its backend and its key objects.

fakerek serves S3 with moto and keeps it on disk itself (`s3/embedded.py`). That needs names moto
does not publish, each used in this module only and covered by a contract test:

- `moto.moto_server.werkzeug_app.create_backend_app`: the WSGI app;
- `moto.s3.models.S3BackendDict`, `S3Backend` and the module name `s3_backends` (also bound in
  `moto.s3.responses`): moto keeps S3 in one process-wide backend dict; each `MotoS3` has its own,
  and the module name becomes a stand-in that answers with the dict of the `MotoS3` the calling
  thread works for, so that two fakerek applications in one process share no bucket;
- `moto.settings.S3_IGNORE_SUBDOMAIN_BUCKETNAME`: fakerek reads Host and path itself and hands
  moto path-style requests only, so both always agree on the bucket and key;
- `FakeKey` (constructor, `_value_buffer`, `lock`, `_etag`, `contentsize`, `last_modified`,
  `_metadata`, `arn`), `FakeDeleteMarker` and `FakeBucket.keys` (`getlist`, `setlist`): a stored
  key's bytes live in a read-only blob file that moto reads through `BlobBuffer`, so no object
  bytes stay in memory and a restart reads no bytes back;
- `FakeKey.dispose` and `FakeKey.etag` are replaced: moto closes a key's buffer when the key is
  overwritten or deleted, which breaks a GET still reading it (500s under concurrent overwrites),
  and computes an ETag unlocked, racing with reads; fakerek lets the garbage collector free the
  buffer and computes the ETag under the key's lock;
- `BaseModel.instances_tracked`: moto keeps every model object it ever made for its dashboard
  (about 7 KB per PUT, never freed); fakerek stops that tracking for S3's models, and takes them
  out of `model_instances.model_data`, whose reset would start it again;
- `BackendDict._instances` and `_create_account_specific_backend`: moto lists every backend dict
  in use so that its process-wide reset (`BackendDict.reset`, run when a test of the same process
  starts `mock_aws`) empties them all; an adapter's is kept off that list, since it is the data
  directory's S3, which the SQLite index mirrors;
- `FakeKey.__deepcopy__` is added (moto's own copy goes through `__getstate__`/`__setstate__`):
  ListObjectVersions deep-copies every version, which read every stored byte into memory; a copy
  of a key whose bytes are a blob now shares the blob file.

Key objects are opaque outside this module: callers pass them back to its functions.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import functools
import hashlib
import io
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple, ParamSpec, TypeAlias, TypeVar

if TYPE_CHECKING:
    from _typeshed import SupportsWrite
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from moto.s3.models import FakeBucket, FakeKey, S3Backend, S3BackendDict

# moto reads its settings when first imported: set this before any import of moto.
os.environ["S3_IGNORE_SUBDOMAIN_BUCKETNAME"] = "true"

ACCOUNT = "123456789012"  # moto's single S3 namespace; bucket names are global, as on AWS
PARTITION = "aws"
CHUNK = 1024 * 1024
NULL_VERSION = "null"  # the version id of an object put while versioning was never enabled

Key: TypeAlias = "FakeKey"  # a moto key object, opaque to callers


class KeyInfo(NamedTuple):
    size: int
    etag: str  # without quotes
    metadata: dict[str, str]  # content-type and friends, and x-amz-meta-* (lower case)


class Version(NamedTuple):
    """One version of a key, oldest first in a key's list; a delete marker has no bytes."""

    version_id: str
    deleted: bool
    modified_ms: int
    info: KeyInfo | None  # None for a delete marker
    tags: dict[str, str]
    blob: str | None  # the digest of the blob holding the bytes, once they are stored


def version() -> str:
    from importlib.metadata import version as installed

    return installed("moto")


class BlobBuffer:
    """A stored key's bytes: a read-only blob file, opened for each read so that a restart with
    20,000 objects holds no file open. A write (moto never writes to a stored key, but may) moves
    the buffer to memory first."""

    def __init__(self, path: str, digest: str):
        self.path = path
        self.digest = digest
        self._position = 0
        self._spilled: io.BytesIO | None = None

    def seek(self, offset: int, whence: int = 0) -> int:
        if self._spilled is not None:
            return self._spilled.seek(offset, whence)
        if whence == 2:
            offset += os.path.getsize(self.path)
        elif whence == 1:
            offset += self._position
        self._position = offset
        return offset

    def tell(self) -> int:
        return self._spilled.tell() if self._spilled is not None else self._position

    def read(self, size: int | None = -1) -> bytes:
        if self._spilled is not None:
            return self._spilled.read(size)
        with open(self.path, "rb") as blob:
            blob.seek(self._position)
            data = blob.read(-1 if size is None else size)
        self._position += len(data)
        return data

    def _spill(self) -> io.BytesIO:
        if self._spilled is None:
            with open(self.path, "rb") as blob:
                self._spilled = io.BytesIO(blob.read())
            self._spilled.seek(self._position)
        return self._spilled

    def write(self, data: bytes) -> int:
        return self._spill().write(data)

    def truncate(self, size: int | None = None) -> int:
        return self._spill().truncate(size)

    @property
    def closed(self) -> bool:
        return False

    def close(self) -> None:
        """Nothing is held open between reads."""


def _dispose(self: FakeKey, garbage: bool = False) -> None:
    """Mark the key gone without closing its buffer: a GET may still be reading it."""
    self.disposed = True


def _etag(self: FakeKey) -> str:
    """The key's ETag (its MD5 unless given), computed once and under the key's lock."""
    if self._etag is None:
        with self.lock:
            if self._etag is None:
                digest = hashlib.md5(usedforsecurity=False)
                self._value_buffer.seek(0)
                while block := self._value_buffer.read(16 * CHUNK):
                    digest.update(block)
                self._etag = digest.hexdigest()
    return f'"{self._etag}"'


def _deepcopy(self: FakeKey, memo: dict[int, object]) -> FakeKey:
    """A deep copy of a key: one whose bytes are a blob file shares the file (the copy reads the
    same bytes, none are read now); any other is copied as moto copies it, bytes included."""
    cls: Any = type(self)  # moto's metaclass hides __new__'s type
    duplicate: FakeKey = cls.__new__(cls)
    memo[id(self)] = duplicate
    buffer = self._value_buffer
    if isinstance(buffer, BlobBuffer) and buffer._spilled is None:
        state = {k: v for k, v in self.__dict__.items() if k not in ("_value_buffer", "lock")}
        duplicate.__dict__.update(copy.deepcopy(state, memo))
        duplicate._value_buffer = BlobBuffer(buffer.path, buffer.digest)
        duplicate.lock = threading.Lock()
    else:
        duplicate.__setstate__(copy.deepcopy(self.__getstate__(), memo))
    return duplicate


class _Untracked(list):  # type: ignore[type-arg]
    """An `instances_tracked` list that keeps nothing."""

    def append(self, item: Any) -> None:
        pass


class _SelectedBackends:
    """Stands in for moto's process-wide `s3_backends`: answers with the backend dict the
    calling thread selected (`selecting`), or with moto's own when it selected none."""

    def __init__(self, default: S3BackendDict) -> None:
        self._default = default
        self._local = threading.local()

    def current(self) -> S3BackendDict:
        selected = getattr(self._local, "backends", None)
        return self._default if selected is None else selected

    @contextlib.contextmanager
    def selecting(self, backends: S3BackendDict) -> Iterator[None]:
        previous = getattr(self._local, "backends", None)
        self._local.backends = backends
        try:
            yield
        finally:
            self._local.backends = previous

    def __getitem__(self, account: str) -> Any:
        return self.current()[account]

    def __getattr__(self, name: str) -> Any:  # bucket_accounts, items(), ...
        return getattr(self.current(), name)

    def __contains__(self, account: object) -> bool:
        return account in self.current()

    def __iter__(self) -> Iterator[str]:
        return iter(self.current())

    def __len__(self) -> int:
        return len(self.current())


_patch_lock = threading.Lock()


def _patch_moto() -> _SelectedBackends:
    """Patch moto once per process; return the stand-in for its `s3_backends`."""
    from moto import settings
    from moto.core.model_instances import model_data
    from moto.s3 import models, responses

    with _patch_lock:
        if isinstance(models.s3_backends, _SelectedBackends):
            return models.s3_backends
        settings.S3_IGNORE_SUBDOMAIN_BUCKETNAME = True  # in case moto was imported earlier
        models.FakeKey.dispose = _dispose  # type: ignore[method-assign]
        models.FakeKey.etag = property(_etag)  # type: ignore[method-assign, assignment]
        models.FakeKey.__deepcopy__ = _deepcopy  # type: ignore[attr-defined]
        for model in model_data.pop("s3", {}).values():
            model.instances_tracked = _Untracked()  # type: ignore[attr-defined]
        selected = _SelectedBackends(models.s3_backends)
        models.s3_backends = selected  # type: ignore[assignment]
        responses.s3_backends = selected  # type: ignore[attr-defined, assignment]
        return selected


Params = ParamSpec("Params")
Result = TypeVar("Result")


def _selected(method: Callable[Params, Result]) -> Callable[Params, Result]:
    """Run a `MotoS3` method with its own backends selected (moto's code reads the module name)."""

    @functools.wraps(method)
    def run(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        self = args[0]
        assert isinstance(self, MotoS3)
        with self.selected():
            return method(*args, **kwargs)

    return run


@functools.cache
def _unlisted_backends() -> type[S3BackendDict]:
    """moto's S3BackendDict, but not on moto's list of the backends its reset empties."""
    from moto.core.base_backend import BackendDict
    from moto.s3.models import S3BackendDict

    class Unlisted(S3BackendDict):
        def _create_account_specific_backend(self, account_id: str) -> None:
            if account_id in self.keys():
                return  # there, and off the list
            super()._create_account_specific_backend(account_id)
            listed = BackendDict._instances  # type: ignore[misc]
            listed[:] = [found for found in listed if found is not self]

    return Unlisted


class MotoS3:
    """A moto S3 backend of its own and the WSGI app that serves it."""

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import create_backend_app
        from moto.s3 import models
        from moto.utilities.utils import PARTITION_NAMES

        self._selector = _patch_moto()
        self._models = models
        self._backends = _unlisted_backends()(
            models.S3Backend,
            service_name="s3",
            use_boto3_regions=False,
            additional_regions=PARTITION_NAMES,
        )  # as moto builds its process-wide one
        with self.selected():
            self._app = create_backend_app("s3")

    def selected(self) -> contextlib.AbstractContextManager[None]:
        """While inside, moto's S3 code in this thread works on this backend."""
        return self._selector.selecting(self._backends)

    def app(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        """moto's WSGI app over this backend; the body (which moto holds in memory anyway) is
        read before the backend is left."""
        with self.selected():
            body = self._app(environ, start_response)
            try:
                return list(body)
            finally:
                if hasattr(body, "close"):
                    body.close()

    @property
    def _backend(self) -> S3Backend:
        return self._backends[ACCOUNT][PARTITION]

    # -- buckets ---------------------------------------------------------------------------------

    @_selected
    def buckets(self) -> dict[str, str]:
        """Every bucket's name and region."""
        return {name: bucket.region_name for name, bucket in self._backend.buckets.items()}

    @_selected
    def has_bucket(self, name: str) -> bool:
        return name in self._backend.buckets

    @_selected
    def create_bucket(self, name: str, region: str) -> None:
        self._backend.create_bucket(name, region)

    @_selected
    def delete_bucket(self, name: str) -> None:
        """Forget a bucket and its keys (used to undo a change that could not be stored)."""
        self._backend.buckets.pop(name, None)
        self._backends.bucket_accounts.pop(name, None)

    @_selected
    def versioning(self, bucket: str) -> str | None:
        """ "Enabled", "Suspended", or None for a bucket that never had versioning."""
        found = self._backend.buckets.get(bucket)
        return None if found is None else found.versioning_status

    @_selected
    def set_versioning(self, bucket: str, status: str | None) -> None:
        self._backend.buckets[bucket].versioning_status = status

    @_selected
    def keys(self, bucket: str) -> list[str]:
        found = self._backend.buckets.get(bucket)
        return [] if found is None else list(found.keys.keys())

    # -- keys ------------------------------------------------------------------------------------

    @_selected
    def get(self, bucket: str, key: str, version: str | None = None) -> Key | None:
        """The current (or given) version of a key, or None for a missing bucket, key or
        version, or a delete marker."""
        if bucket not in self._backend.buckets:
            return None
        try:
            return self._backend.get_object(bucket, key, version_id=version)
        except Exception:  # moto raises its own S3 errors for bad version ids
            return None

    @_selected
    def put(self, bucket: str, key: str, data: bytes, metadata: dict[str, str]) -> None:
        fake = self._backend.put_object(bucket, key, data, disable_notification=True)
        fake.set_metadata(dict(metadata))

    @_selected
    def versions(self, bucket: str, key: str) -> list[tuple[Version, Key | None]]:
        """Every version of a key, oldest first, with the key object of each (None for a
        delete marker)."""
        found = self._backend.buckets.get(bucket)
        if found is None:
            return []
        out: list[tuple[Version, Key | None]] = []
        for item in found.keys.getlist(key, []):
            modified = _epoch_ms(item.last_modified)
            if isinstance(item, self._models.FakeDeleteMarker):
                out.append((Version(str(item.version_id), True, modified, None, {}, None), None))
                continue
            buffer = item._value_buffer
            blob = buffer.digest if isinstance(buffer, BlobBuffer) else None
            tags = self._backend.tagger.get_tag_dict_for_resource(item.arn)
            version = Version(str(item.version_id), False, modified, self.info(item), tags, blob)
            out.append((version, item))
        return out

    def attach(self, fake: Key, path: str, digest: str) -> None:
        """From now on the key's bytes are read from the blob file at `path`."""
        with fake.lock:
            fake._value_buffer.close()  # the in-memory copy: every reader holds the lock
            fake._value_buffer = BlobBuffer(path, digest)  # type: ignore[assignment]

    @_selected
    def restore(self, bucket: str, key: str, versions: list[tuple[Version, str | None]]) -> None:
        """Put a stored key back with all its versions (oldest first), each version's bytes
        read from its blob file when needed (`path`), never copied into memory."""
        found = self._backend.buckets[bucket]
        items: list[Any] = []
        previous = None
        for version, path in versions:
            modified = dt.datetime.fromtimestamp(version.modified_ms / 1000, dt.UTC).replace(
                tzinfo=None
            )
            if version.deleted or version.info is None or path is None or version.blob is None:
                marker = self._models.FakeDeleteMarker(previous or self._placeholder(found, key))
                marker._version_id = version.version_id
                marker.last_modified = modified
                items.append(marker)
                continue
            fake = self._models.FakeKey(
                name=key,
                value=b"",
                account_id=ACCOUNT,
                region_name=found.region_name,
                bucket_name=bucket,
                etag=version.info.etag,
                is_versioned=version.version_id != NULL_VERSION,
                version_id=version.version_id,
            )
            fake._value_buffer.close()
            fake._value_buffer = BlobBuffer(path, version.blob)  # type: ignore[assignment]
            fake.contentsize = version.info.size
            fake.last_modified = modified
            # the metadata as stored (lower-case keys, as moto's dict keeps them), set directly:
            # going through the dict's update() costs more than the rest of a restore
            fake._metadata.store = {k.lower(): v for k, v in version.info.metadata.items()}
            if version.tags:
                self._set_tags(fake, version.tags)
            items.append(fake)
            previous = fake
        found.keys.setlist(key, items)

    @_selected
    def _placeholder(self, bucket: FakeBucket, key: str) -> FakeKey:
        return self._models.FakeKey(
            name=key,
            value=b"",
            account_id=ACCOUNT,
            region_name=bucket.region_name,
            bucket_name=bucket.name,
        )

    @_selected
    def _set_tags(self, fake: Key, tags: dict[str, str]) -> None:
        tagger = self._backend.tagger
        tagger.tag_resource(fake.arn, tagger.convert_dict_to_tags_input(tags))

    @_selected
    def forget(self, bucket: str, key: str) -> None:
        """Drop a key from memory (used to undo a change that could not be stored)."""
        found = self._backend.buckets.get(bucket)
        if found is not None and key in found.keys:
            del found.keys[key]

    @staticmethod
    def info(fake: Key) -> KeyInfo:
        metadata = {name.lower(): value for name, value in fake.metadata.items()}
        return KeyInfo(fake.size, fake.etag.strip('"'), metadata)

    @staticmethod
    def copy_bytes(fake: Key, target: SupportsWrite[bytes]) -> None:
        """Write the key's bytes to `target`, holding the key's lock so no write tears them."""
        with fake.lock:
            buffer = fake._value_buffer
            buffer.seek(0)
            shutil.copyfileobj(buffer, target, CHUNK)

    @staticmethod
    def read(fake: Key, limit: int | None = None) -> bytes:
        with fake.lock:
            buffer = fake._value_buffer
            buffer.seek(0)
            data: bytes = buffer.read() if limit is None else buffer.read(limit)
            return data

    @_selected
    def reset(self) -> None:
        """Empty every bucket of this backend (not moto's class-wide `reset`, which empties
        every backend of the process)."""
        for account in self._backends.values():
            account.reset()
        self._backends.clear()
        self._backends.bucket_accounts.clear()


def _epoch_ms(moment: dt.datetime) -> int:
    """moto's naive UTC datetimes as epoch milliseconds."""
    return round(moment.replace(tzinfo=dt.UTC).timestamp() * 1000)

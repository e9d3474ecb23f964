"""moto's S3, reached only through here: its WSGI app, its backend and its key objects.

fakerek serves S3 with moto and makes it durable itself (`s3/embedded.py`). That needs names moto
does not publish: the backend registry `s3_backends`, the WSGI app factory `create_backend_app`,
the key objects' byte buffer, lock, ETag and size, and the `S3_IGNORE_SUBDOMAIN_BUCKETNAME`
setting (fakerek reads Host and path itself and hands moto path-style requests only). Key objects
are opaque outside this module: callers pass them back to its functions.
"""

from __future__ import annotations

import os
import shutil
from typing import IO, Any, NamedTuple

# moto reads its settings when first imported: set this before any import of moto.
os.environ["S3_IGNORE_SUBDOMAIN_BUCKETNAME"] = "true"

ACCOUNT = "123456789012"  # moto's single S3 namespace; bucket names are global, as on AWS
PARTITION = "aws"
CHUNK = 1024 * 1024

Key = Any  # a moto key object, opaque to callers


class KeyInfo(NamedTuple):
    size: int
    etag: str  # without quotes
    metadata: dict[str, str]  # Content-Type and friends, and x-amz-meta-* as moto keeps them


def version() -> str:
    from importlib.metadata import version as installed

    return installed("moto")


class MotoS3:
    """One process-wide moto S3 backend and the WSGI app that serves it."""

    def __init__(self) -> None:
        from moto import settings
        from moto.s3.models import s3_backends
        from moto.server import create_backend_app

        settings.S3_IGNORE_SUBDOMAIN_BUCKETNAME = True  # in case moto was imported earlier
        self.app = create_backend_app("s3")
        self._backends = s3_backends

    @property
    def _backend(self) -> Any:
        return self._backends[ACCOUNT][PARTITION]

    # -- buckets ---------------------------------------------------------------------------------

    def buckets(self) -> dict[str, str]:
        """Every bucket's name and region."""
        return {name: bucket.region_name for name, bucket in self._backend.buckets.items()}

    def has_bucket(self, name: str) -> bool:
        return name in self._backend.buckets

    def create_bucket(self, name: str, region: str) -> None:
        self._backend.create_bucket(name, region)

    def delete_bucket(self, name: str) -> None:
        """Forget a bucket and its keys (used to undo a change that could not be stored)."""
        bucket = self._backend.buckets.pop(name, None)
        if bucket is not None:
            for key in list(bucket.keys.values()):
                key.dispose()

    def keys(self, bucket: str) -> list[str]:
        found = self._backend.buckets.get(bucket)
        return [] if found is None else list(found.keys.keys())

    # -- keys ------------------------------------------------------------------------------------

    def get(self, bucket: str, key: str, version: str | None = None) -> Key | None:
        """The current (or given) version of a key, or None for a missing bucket, key or
        version."""
        if bucket not in self._backend.buckets:
            return None
        try:
            return self._backend.get_object(bucket, key, version_id=version)
        except Exception:  # moto raises its own S3 errors for missing keys and bad versions
            return None

    def put(self, bucket: str, key: str, data: bytes, metadata: dict[str, str]) -> None:
        fake = self._backend.put_object(bucket, key, data, disable_notification=True)
        fake.set_metadata(dict(metadata))

    def restore(self, bucket: str, key: str, source: IO[bytes], info: KeyInfo) -> None:
        """Put a stored object back without reading it into memory at once."""
        fake = self._backend.put_object(bucket, key, b"", disable_notification=True)
        with fake.lock:
            fake._value_buffer.seek(0)
            fake._value_buffer.truncate()
            shutil.copyfileobj(source, fake._value_buffer, CHUNK)
        fake.contentsize = info.size
        fake._etag = info.etag
        fake.set_metadata(dict(info.metadata))

    def forget(self, bucket: str, key: str) -> None:
        """Drop a key from memory (used to undo a change that could not be stored)."""
        found = self._backend.buckets.get(bucket)
        if found is not None and key in found.keys:
            for fake in found.keys.getlist(key):
                fake.dispose()
            del found.keys[key]

    @staticmethod
    def info(fake: Key) -> KeyInfo:
        return KeyInfo(fake.size, fake.etag.strip('"'), dict(fake.metadata))

    @staticmethod
    def copy_bytes(fake: Key, target: IO[bytes]) -> None:
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
            return buffer.read() if limit is None else buffer.read(limit)

    def reset(self) -> None:
        """Empty every bucket of every account."""
        self._backends.reset()

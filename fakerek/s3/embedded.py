"""S3 on fakerek's own port: moto's S3 backend, made durable under the data directory.

moto keeps objects in memory. Every successful request that changes a bucket or an object is
mirrored to disk after moto has answered it: object bytes go to a content-addressed blob folder,
the index (bucket, key, blob, metadata) to the SQLite store. At start-up the index is replayed
into moto, so buckets and objects survive restarts. Object versions, ACLs, tags and bucket
configuration are served by moto but not persisted: only the latest bytes and user metadata are.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

from fakerek.store.db import Store

log = logging.getLogger("fakerek.s3")
ACCOUNT = "123456789012"  # moto's single S3 namespace; bucket names are global, as on AWS
_OBJECT_SUBRESOURCES = {
    "tagging",
    "acl",
    "retention",
    "legal-hold",
    "restore",
    "torrent",
    "uploads",
    "partNumber",
    "select",
}
_CHUNK = 1024 * 1024


class _Shim:
    """Just enough of a request for moto's virtual-host test."""

    def __init__(self, host: str):
        self.headers = {"host": host, "Host": host}
        self.url = f"http://{host}/"


class EmbeddedS3:
    def __init__(self, store: Store):
        from moto.s3.models import s3_backends
        from moto.s3.responses import S3Response
        from moto.server import create_backend_app

        self.store = store
        self.app = create_backend_app("s3")
        self._backends = s3_backends
        self._virtual = S3Response.subdomain_based_buckets
        self._response = S3Response.__new__(S3Response)
        self.blob_dir = os.path.join(store.data_dir, "s3")
        os.makedirs(self.blob_dir, exist_ok=True)
        self._lock = threading.Lock()  # one mirror at a time: keeps index and blobs consistent
        self._restore()

    @property
    def backend(self) -> Any:
        return self._backends[ACCOUNT]["aws"]

    # -- WSGI ------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        status_holder: list[int] = []

        def capture(status: str, headers: list, exc_info: Any = None) -> Any:
            status_holder.append(int(status.split(" ", 1)[0]))
            return (
                start_response(status, headers, exc_info)
                if exc_info
                else start_response(status, headers)
            )

        body = self.app(environ, capture)
        method = environ.get("REQUEST_METHOD", "GET")
        if method in ("PUT", "POST", "DELETE"):
            chunks = list(body)  # let moto finish the request before mirroring it
            if hasattr(body, "close"):
                body.close()
            if status_holder and status_holder[0] < 300:
                try:
                    self._mirror(environ, method)
                except Exception:
                    log.exception(
                        "could not persist S3 change %s %s", method, environ.get("PATH_INFO")
                    )
            return chunks
        return body

    def bucket_and_key(self, environ: dict[str, Any]) -> tuple[str, str]:
        host = environ.get("HTTP_HOST", "")
        raw = environ.get("PATH_INFO", "")
        try:
            path = raw.encode("latin-1").decode("utf-8")
        except UnicodeError:
            path = raw
        if host and self._virtual(self._response, _Shim(host)):
            return host.split(".", 1)[0], path[1:]
        bucket, _, key = path.lstrip("/").partition("/")
        return bucket, key

    def _mirror(self, environ: dict[str, Any], method: str) -> None:
        bucket, key = self.bucket_and_key(environ)
        if not bucket:
            return
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        with self._lock:
            if key:
                if _OBJECT_SUBRESOURCES & query.keys() and "uploadId" not in query:
                    return
                if "uploadId" in query and not (method == "POST" and "partNumber" not in query):
                    return  # a part, or an aborted upload: not an object yet
                self._sync_object(bucket, key)
            elif not query:
                self._sync_bucket(bucket)
            elif "delete" in query:
                self._sync_bucket(bucket, keys=True)

    # -- mirroring -------------------------------------------------------------------------------

    def put_object(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        """Write an object from inside fakerek (training outputs), durably like a PUT would."""
        fake = self.backend.put_object(bucket, key, data)
        fake.set_metadata({"content-type": content_type})
        with self._lock:
            self._sync_object(bucket, key)

    def _sync_bucket(self, name: str, keys: bool = False) -> None:
        bucket = self.backend.buckets.get(name)
        with self.store.write() as tx:
            stored = tx.execute(
                "SELECT key, blob FROM s3_objects WHERE bucket = ?", (name,)
            ).fetchall()
            if bucket is None:
                gone = stored
                tx.execute("DELETE FROM s3_buckets WHERE name = ?", (name,))
            else:
                tx.execute(
                    "INSERT OR IGNORE INTO s3_buckets (name, region, created_ms) VALUES (?, ?, ?)",
                    (name, bucket.region_name, int(time.time() * 1000)),
                )
                gone = [row for row in stored if keys and self._live_key(name, row[0]) is None]
            tx.executemany(
                "DELETE FROM s3_objects WHERE bucket = ? AND key = ?",
                [(name, row[0]) for row in gone],
            )
            unused = self._unused(tx, {row[1] for row in gone})
        self._remove_blobs(unused)

    def _live_key(self, bucket: str, key: str) -> Any:
        try:
            return self.backend.get_object(bucket, key)
        except Exception:  # moto raises for missing buckets and keys alike
            return None

    def _sync_object(self, bucket: str, key: str) -> None:
        fake = self._live_key(bucket, key)
        digest = None if fake is None else self._write_blob(fake)
        with self.store.write() as tx:
            old = tx.execute(
                "SELECT blob FROM s3_objects WHERE bucket = ? AND key = ?", (bucket, key)
            ).fetchone()
            if fake is None:
                tx.execute("DELETE FROM s3_objects WHERE bucket = ? AND key = ?", (bucket, key))
            else:
                tx.execute(
                    "INSERT INTO s3_objects (bucket, key, blob, size, etag, metadata) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (bucket, key) DO UPDATE SET "
                    "blob = excluded.blob, size = excluded.size, etag = excluded.etag, "
                    "metadata = excluded.metadata",
                    (
                        bucket,
                        key,
                        digest,
                        fake.size,
                        fake.etag.strip('"'),
                        json.dumps(dict(fake.metadata)),
                    ),
                )
            unused = self._unused(tx, {old[0]} if old else set())
        self._remove_blobs(unused)

    @staticmethod
    def _unused(tx: Any, blobs: set[str]) -> list[str]:
        return [
            b
            for b in blobs
            if tx.execute("SELECT 1 FROM s3_objects WHERE blob = ? LIMIT 1", (b,)).fetchone()
            is None
        ]

    def _remove_blobs(self, blobs: Iterable[str]) -> None:
        for digest in blobs:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self._blob_path(digest))

    def _blob_path(self, digest: str) -> str:
        return os.path.join(self.blob_dir, digest[:2], digest)

    def _write_blob(self, fake: Any) -> str:
        sha = hashlib.sha256()
        with tempfile.NamedTemporaryFile(dir=self.blob_dir, delete=False) as tmp, fake.lock:
            buffer = fake._value_buffer
            buffer.seek(0)
            while chunk := buffer.read(_CHUNK):
                sha.update(chunk)
                tmp.write(chunk)
        digest = sha.hexdigest()
        target = self._blob_path(digest)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.replace(tmp.name, target)
        return digest

    def _collect_garbage(self) -> None:
        """Remove blob files no object points at (left by a crash between blob and index)."""
        with self.store.read() as conn:
            used = {row[0] for row in conn.execute("SELECT DISTINCT blob FROM s3_objects")}
        for folder in os.listdir(self.blob_dir):
            sub = os.path.join(self.blob_dir, folder)
            if os.path.isdir(sub) and len(folder) == 2:
                for name in os.listdir(sub):
                    if name not in used:
                        os.remove(os.path.join(sub, name))

    # -- start-up and reset ----------------------------------------------------------------------

    def _restore(self) -> None:
        with self.store.read() as conn:
            buckets = conn.execute("SELECT name, region FROM s3_buckets").fetchall()
            objects = conn.execute(
                "SELECT bucket, key, blob, size, etag, metadata FROM s3_objects"
            ).fetchall()
        for name, region in buckets:
            self.backend.create_bucket(name, region)
        for bucket, key, blob, size, etag, metadata in objects:
            fake = self.backend.put_object(bucket, key, b"", disable_notification=True)
            with open(self._blob_path(blob), "rb") as source, fake.lock:
                fake._value_buffer.seek(0)
                fake._value_buffer.truncate()
                shutil.copyfileobj(source, fake._value_buffer, _CHUNK)
            fake.contentsize = size
            fake._etag = etag
            fake.set_metadata(json.loads(metadata))
        if buckets:
            log.info("restored %d S3 buckets and %d objects", len(buckets), len(objects))
        self._collect_garbage()

    def reset(self) -> None:
        """Empty every bucket (the store's reset clears the index)."""
        self._backends.reset()
        with self._lock:
            shutil.rmtree(self.blob_dir, ignore_errors=True)
            os.makedirs(self.blob_dir, exist_ok=True)

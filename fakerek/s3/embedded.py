"""S3 on fakerek's own port: moto's S3, made durable under the data directory.

moto keeps objects in memory. Every request that changes a bucket or an object is answered by
moto, then mirrored to disk before the client hears of it: object bytes go to a content-addressed
blob folder, the index (bucket, key, blob, metadata) to the SQLite store. A change that cannot be
stored is undone in moto and answered with S3's `InternalError` (500), so an acknowledged write
is a durable one. At start-up the index is replayed into moto, repairing what a crash or an older
version left (an object without its bucket row, an index row without its blob). Object versions,
ACLs, tags and bucket configuration are served by moto but not kept: only the latest bytes and
metadata of each object are.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from fakerek.adapters.moto_s3 import KeyInfo, MotoS3
from fakerek.lifecycle import now_ms
from fakerek.s3 import addressing
from fakerek.store import s3 as index
from fakerek.store.db import Store

log = logging.getLogger("fakerek.s3")
# Object sub-resources that change no bytes and no user metadata (not kept across restarts).
_SUBRESOURCES = {"tagging", "acl", "retention", "legal-hold", "restore", "torrent", "select"}
_MUTATING = ("PUT", "POST", "DELETE")
_ATTEMPTS = 3  # a key overwritten while it is being stored is read again
INTERNAL_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
    "<Message>We encountered an internal error. Please try again.</Message>"
    "<RequestId>{request_id}</RequestId></Error>"
)


class Blobs:
    """Content-addressed files: `<dir>/<2 hex>/<sha256>`; a file is written once, never changed."""

    def __init__(self, folder: str):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)

    def path(self, digest: str) -> str:
        return os.path.join(self.folder, digest[:2], digest)

    def write(self, fill: Callable[[Any], None]) -> str:
        """Store what `fill(file)` writes; return its digest."""
        with tempfile.NamedTemporaryFile(dir=self.folder, delete=False) as tmp:
            try:
                fill(tmp)
            except BaseException:
                os.unlink(tmp.name)
                raise
        sha = hashlib.sha256()
        with open(tmp.name, "rb") as written:
            while chunk := written.read(1024 * 1024):
                sha.update(chunk)
        digest = sha.hexdigest()
        target = self.path(digest)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.replace(tmp.name, target)
        return digest

    def remove(self, digests: Iterable[str]) -> None:
        for digest in digests:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.path(digest))

    def sweep(self, used: set[str]) -> int:
        """Remove files no object points at (left by a crash between blob and index)."""
        removed = 0
        for folder in os.listdir(self.folder):
            sub = os.path.join(self.folder, folder)
            if not os.path.isdir(sub):
                if folder.startswith("tmp"):  # a temporary file a crash left
                    os.remove(sub)
                continue
            for name in os.listdir(sub):
                if name not in used:
                    os.remove(os.path.join(sub, name))
                    removed += 1
        return removed

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        os.makedirs(self.folder, exist_ok=True)


class EmbeddedS3:
    def __init__(self, store: Store, region: str = "us-east-1"):
        self.store = store
        self.region = region  # of a bucket brought back for objects whose bucket row was lost
        self.moto = MotoS3()
        self.blobs = Blobs(os.path.join(store.data_dir, "s3"))
        self._lock = threading.Lock()  # one mirror at a time: index and blobs stay consistent
        self.moto.reset()  # moto's backend is process-wide: it mirrors this data dir alone
        self._restore()

    # -- WSGI ------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        target = addressing.to_path_style(environ)
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in _MUTATING:
            return self.moto.app(environ, start_response)
        answered: list[Any] = []

        def capture(status: str, headers: list, exc_info: Any = None) -> Any:
            answered[:] = [status, headers]
            return lambda data: None

        body = self.moto.app(environ, capture)
        try:
            chunks = list(body)  # moto finishes the request before it is mirrored
        finally:
            if hasattr(body, "close"):
                body.close()
        status, headers = answered
        if int(status.split(" ", 1)[0]) < 300:
            try:
                with self._lock:
                    self._mirror(target, method)
            except Exception:
                log.exception(
                    "could not store S3 change %s /%s/%s: answering InternalError",
                    method,
                    target.bucket,
                    target.key,
                )
                self._undo(target)
                request_id = uuid.uuid4().hex[:16].upper()
                chunks = [INTERNAL_ERROR.format(request_id=request_id).encode()]
                status = "500 Internal Server Error"
                headers = [
                    ("Content-Type", "application/xml"),
                    ("Content-Length", str(len(chunks[0]))),
                    ("x-amz-request-id", request_id),
                ]
        start_response(status, headers)
        return chunks

    # -- mirroring -------------------------------------------------------------------------------

    def _mirror(self, target: addressing.Target, method: str) -> None:
        bucket, key = target.bucket, target.key
        if not bucket:
            return
        query = parse_qs(target.query, keep_blank_values=True)
        if key:
            if "uploadId" in query:
                if method == "POST" and "partNumber" not in query:
                    self._sync_object(bucket, key)  # CompleteMultipartUpload
                return  # a part, or an aborted upload: not an object yet
            if method == "POST" and "uploads" in query:
                return  # CreateMultipartUpload
            if not _SUBRESOURCES & query.keys():
                self._sync_object(bucket, key)
        elif not query:
            self._sync_bucket(bucket)
        elif "delete" in query:
            self._sync_keys(bucket)

    def put_object(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        """Write an object from inside fakerek (training outputs), durably as a PUT would."""
        self.moto.put(bucket, key, data, {"Content-Type": content_type})
        with self._lock:
            try:
                self._sync_object(bucket, key)
            except Exception:
                self._undo(addressing.Target(bucket, key, ""))
                raise

    def _sync_bucket(self, name: str) -> None:
        region = self.moto.buckets().get(name)
        with self.store.write() as tx:
            if region is None:
                unused = index.delete_bucket(tx, name)
            else:
                index.put_bucket(tx, name, region, now_ms())
                unused = []
        self.blobs.remove(unused)

    def _sync_keys(self, bucket: str) -> None:
        """After DeleteObjects: forget the stored keys moto no longer has."""
        live = set(self.moto.keys(bucket))
        with self.store.write() as tx:
            gone = [key for key in index.keys(tx, bucket) if key not in live]
            unused = index.delete_objects(tx, bucket, gone)
        self.blobs.remove(unused)

    def _sync_object(self, bucket: str, key: str) -> None:
        for attempt in range(_ATTEMPTS):
            fake = self.moto.get(bucket, key)
            if fake is None:
                with self.store.write() as tx:
                    unused = index.delete_objects(tx, bucket, [key])
                self.blobs.remove(unused)
                return
            try:
                digest = self.blobs.write(functools.partial(self.moto.copy_bytes, fake))
            except ValueError:  # an overwrite closed this key's buffer: store the newer one
                if attempt == _ATTEMPTS - 1:
                    raise
                continue
            info = self.moto.info(fake)
            with self.store.write() as tx:
                index.put_bucket(tx, bucket, self.moto.buckets().get(bucket, self.region), now_ms())
                unused = index.put_object(
                    tx, bucket, key, digest, info.size, info.etag, info.metadata
                )
            self.blobs.remove(unused)
            return

    def _undo(self, target: addressing.Target) -> None:
        """Bring moto back to what the index holds for the target a failed mirror touched."""
        try:
            with self.store.read() as conn:
                stored_buckets = {row["name"] for row in index.buckets(conn)}
                rows = (
                    [index.object_row(conn, target.bucket, target.key)]
                    if target.key
                    else [r for r in index.objects(conn) if r["bucket"] == target.bucket]
                )
            if not target.key and target.bucket not in stored_buckets:
                self.moto.delete_bucket(target.bucket)
                return
            if target.key and rows[0] is None:
                self.moto.forget(target.bucket, target.key)
                return
            live = set(self.moto.keys(target.bucket))
            for row in rows:
                if row is not None and (target.key or row["key"] not in live):
                    self._restore_object(row)
        except Exception:
            log.exception(
                "could not undo the S3 change to /%s/%s in memory", target.bucket, target.key
            )

    # -- start-up and reset ----------------------------------------------------------------------

    def _restore_object(self, row: Any) -> None:
        with open(self.blobs.path(row["blob"]), "rb") as source:
            self.moto.restore(
                row["bucket"],
                row["key"],
                source,
                KeyInfo(row["size"], row["etag"], json.loads(row["metadata"])),
            )

    def _restore(self) -> None:
        """Replay the index into moto, repairing it on the way; never fails the start-up."""
        try:
            with self.store.read() as conn:
                buckets = index.buckets(conn)
                objects = index.objects(conn)
        except Exception:
            log.exception("the embedded S3's index cannot be read: starting with no objects")
            return
        for row in buckets:
            try:
                self.moto.create_bucket(row["name"], row["region"])
            except Exception:
                log.exception("bucket %s cannot be restored", row["name"])
        restored = 0
        for row in objects:
            try:
                restored += self._restore_checked(row)
            except Exception:
                log.exception(
                    "s3://%s/%s cannot be restored; its index row is kept",
                    row["bucket"],
                    row["key"],
                )
        if buckets or objects:
            log.info("restored %d S3 buckets and %d objects", len(buckets), restored)
        try:
            with self.store.read() as conn:
                removed = self.blobs.sweep(index.used_blobs(conn))
            if removed:
                log.info("removed %d stored S3 blobs no object uses", removed)
        except Exception:
            log.exception("unused S3 blobs could not be swept")

    def _restore_checked(self, row: Any) -> int:
        """Restore one object, repairing its bucket row or dropping a row without bytes."""
        bucket, key = row["bucket"], row["key"]
        if not os.path.exists(self.blobs.path(row["blob"])):
            log.warning(
                "repair: s3://%s/%s is dropped: its stored bytes (blob %s) are missing",
                bucket,
                key,
                row["blob"],
            )
            with self.store.write() as tx:
                index.delete_objects(tx, bucket, [key])
            return 0
        if not self.moto.has_bucket(bucket):
            log.warning(
                "repair: bucket %s is restored (region %s): it holds stored objects but "
                "had no bucket row",
                bucket,
                self.region,
            )
            self.moto.create_bucket(bucket, self.region)
            with self.store.write() as tx:
                index.put_bucket(tx, bucket, self.region, now_ms())
        self._restore_object(row)
        return 1

    def reset(self) -> None:
        """Empty every bucket (the store's reset clears the index)."""
        with self._lock:
            self.moto.reset()
            self.blobs.clear()

"""S3 on fakerek's own port: moto's S3, kept on disk under the data directory.

moto answers every S3 request. Object bytes live in content-addressed blob files that moto reads
through the adapter (`BlobBuffer`), never in memory; the index (buckets with their versioning
state; every version of every key with its blob, metadata, tags and modification time) lives in
the SQLite store. A request that changes a bucket or a key is mirrored to disk before the client
hears of it; a change that cannot be stored is undone in moto and answered with S3's
`InternalError` (500), so an acknowledged write is a durable one. At start-up the index is
replayed into moto without reading any object's bytes, repairing what a crash or an older
version left (a key without its bucket row, a version without its blob).

Buckets belong to accounts: the account of the access key a request is signed with (see
`api.sigv4`; an unsigned request is the default account's) owns what it creates. Another account
gets S3's AccessDenied on the bucket and on its objects, as copy source too, and
BucketAlreadyExists when it tries to create it; ListBuckets lists the caller's own. moto serves
one account: these checks are made here, in front of it; a browser-form (POST) upload is the
account's whose access key its form names. Bucket policies and ACLs are not evaluated, nor are
signatures or a form's policy.

Kept across restarts: buckets with their owners, versioning state, every object version and
delete marker, content type and user metadata, object tags. Served but not kept: ACLs, bucket
policies and other bucket configuration, multipart uploads still in progress.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterable
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode
from xml.sax.saxutils import escape

from fakerek.adapters.moto_s3 import ACCOUNT as DEFAULT_ACCOUNT
from fakerek.adapters.moto_s3 import KeyInfo, MotoS3, Version
from fakerek.api import sigv4
from fakerek.domain.clock import wall_ms
from fakerek.s3 import addressing, forms
from fakerek.store import s3 as index
from fakerek.store.db import Store, StoreClosed

if TYPE_CHECKING:
    from _typeshed import SupportsWrite
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("fakerek.s3")
_MUTATING = ("PUT", "POST", "DELETE")
# Key sub-resources whose changes are not kept (tags are: `tagging` is not listed).
_UNKEPT = {"acl", "retention", "legal-hold", "restore", "torrent", "select"}
RETIRE_AFTER_S = 30.0  # an unused blob outlives its last version by this much: a GET may read it
ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
    "<Message>{message}</Message>{extra}<RequestId>{request_id}</RequestId></Error>"
)


class Blobs:
    """Content-addressed files: `<dir>/<2 hex>/<sha256>`, written once, never changed. A blob no
    version uses is retired, then removed once no request can still be reading it."""

    def __init__(self, folder: str):
        self.folder = folder
        os.makedirs(folder, exist_ok=True)
        self._retired: list[tuple[float, str]] = []

    def path(self, digest: str) -> str:
        return os.path.join(self.folder, digest[:2], digest)

    def write(self, fill: Callable[[SupportsWrite[bytes]], None]) -> str:
        """Store what `fill(file)` writes; return its digest."""
        sha = hashlib.sha256()

        class Hashing:
            def __init__(self, target: IO[bytes]):
                self.target = target

            def write(self, data: bytes) -> int:
                sha.update(data)
                return self.target.write(data)

        with tempfile.NamedTemporaryFile(dir=self.folder, delete=False) as tmp:
            try:
                fill(Hashing(tmp))
            except BaseException:
                os.unlink(tmp.name)
                raise
        digest = sha.hexdigest()
        target = self.path(digest)
        try:
            if os.path.exists(target):  # the same bytes are stored already
                os.unlink(tmp.name)  # (renaming over a file would also make ext4 flush it)
            else:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.replace(tmp.name, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp.name)
            raise
        return digest

    def retire(self, digests: Iterable[str]) -> None:
        moment = time.monotonic()
        self._retired += [(moment, digest) for digest in digests]

    def collect(self, still_used: Callable[[list[str]], set[str]]) -> None:
        """Remove the retired blobs old enough, unless a version uses them again."""
        horizon = time.monotonic() - RETIRE_AFTER_S
        due = [digest for moment, digest in self._retired if moment <= horizon]
        if not due:
            return
        self._retired = [(m, d) for m, d in self._retired if m > horizon]
        used = still_used(due)
        for digest in due:
            if digest not in used:
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self.path(digest))

    def sweep(self, used: set[str]) -> int:
        """Remove files no version points at (left by a crash between blob and index)."""
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
        self._retired = []
        shutil.rmtree(self.folder, ignore_errors=True)
        os.makedirs(self.folder, exist_ok=True)


class EmbeddedS3:
    """Started in the background (importing moto and replaying the index take longer than the
    rest of the start-up): the server answers its health check and Rekognition at once, and S3
    requests, and fakerek's own reads of objects, wait until S3 is ready."""

    def __init__(
        self,
        store: Store,
        region: str = "us-east-1",
        default_account: Callable[[], str] = lambda: DEFAULT_ACCOUNT,
    ):
        self.store = store
        self.region = region  # of a bucket brought back for keys whose bucket row was lost
        self.default_account = default_account  # of unsigned requests, and of old buckets
        self.blobs = Blobs(os.path.join(store.data_dir, "s3"))
        self._lock = threading.Lock()  # one mirror at a time: index and blobs stay consistent
        self._owners: dict[str, str | None] = {}  # bucket -> account (None: the default one)
        self._moto: MotoS3 | None = None
        self._failure: BaseException | None = None
        self._ready = threading.Event()
        threading.Thread(target=self._start, name="s3-start", daemon=True).start()

    def _start(self) -> None:
        try:
            moto = MotoS3()  # a backend of its own: it mirrors this data dir alone
            self._restore(moto)
            self._moto = moto
        except BaseException as error:
            log.exception("the embedded S3 cannot start")
            self._failure = error
        finally:
            self._ready.set()

    @property
    def moto(self) -> MotoS3:
        """moto's S3, once started (waits for the start-up)."""
        self._ready.wait()
        if self._moto is None:
            raise RuntimeError(f"the embedded S3 did not start: {self._failure!r}")
        return self._moto

    def close(self) -> None:
        """Let the start-up finish (it uses the store, which closes next), then let moto's
        buckets go."""
        self._ready.wait()
        if self._moto is not None:
            self._moto.reset()

    # -- accounts --------------------------------------------------------------------------------

    def owner(self, bucket: str) -> str | None:
        """The account that owns a bucket, or None when there is no such bucket."""
        if not self.moto.has_bucket(bucket):
            return None
        return self._owners.get(bucket) or self.default_account()

    def allows(self, bucket: str, account: str) -> bool:
        """Whether `account` may use the bucket: it owns it, or there is no such bucket (so the
        caller hears that it does not exist)."""
        return self.owner(bucket) in (None, account)

    def caller(self, environ: dict[str, Any], target: addressing.Target) -> str:
        """The account a request comes from: its signature's access key (see `api.sigv4`), or
        for a browser-form upload the one its form names (`forms`)."""
        _, query = addressing.raw_target(environ)
        key = sigv4.access_key(environ.get("HTTP_AUTHORIZATION"), query)
        if key is None and forms.is_form_upload(environ, target):
            key = forms.access_key(environ)
        return sigv4.account_of(key, self.default_account())

    # -- WSGI ------------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        try:
            moto = self.moto  # waits for the start-up
        except RuntimeError:  # it failed, and the log says why
            return _internal_error(start_response)
        target = addressing.to_path_style(environ)
        if not addressing.is_text(target):  # S3 keys are UTF-8: S3 cannot parse the request
            return s3_error(
                start_response, "400 Bad Request", "InvalidURI", "Couldn't parse the specified URI."
            )
        method = environ.get("REQUEST_METHOD", "GET")
        caller = self.caller(environ, target)
        refused = self._refusal(environ, target, method, caller)
        if refused is not None:
            return refused(start_response)
        if not target.bucket and method == "GET":
            return self._list_buckets(environ, start_response, caller)
        if method not in _MUTATING:
            return moto.app(environ, start_response)
        answered: list[Any] = []

        def capture(
            status: str, headers: list[tuple[str, str]], exc_info: object = None
        ) -> Callable[[bytes], object]:
            answered[:] = [status, headers]
            return lambda data: None

        chunks = moto.app(environ, capture)  # moto finishes the request before it is mirrored
        status, headers = answered
        if int(status.split(" ", 1)[0]) < 300:
            try:
                with self._lock:
                    self._mirror(target, method, b"".join(chunks), caller)
            except Exception as error:
                log.error(
                    "could not store S3 change %s /%s/%s: answering InternalError",
                    method,
                    target.bucket,
                    target.key,
                    exc_info=None if isinstance(error, StoreClosed) else error,
                )
                self._undo(target)
                return _internal_error(start_response)
        start_response(status, headers)
        return chunks

    def _refusal(
        self, environ: WSGIEnvironment, target: addressing.Target, method: str, caller: str
    ) -> Callable[[StartResponse], list[bytes]] | None:
        """S3's answer when the caller may not do this, else None: AccessDenied on another
        account's bucket, its objects or an object copied from it; BucketAlreadyExists for
        creating another account's bucket."""
        if target.bucket and not self.allows(target.bucket, caller):
            if method == "PUT" and not target.key and not target.query:
                return functools.partial(
                    s3_error,
                    status="409 Conflict",
                    code="BucketAlreadyExists",
                    message="The requested bucket name is not available. The bucket namespace "
                    "is shared by all users of the system. Please select a different name and "
                    "try again.",
                    extra={"BucketName": target.bucket},
                )
            return _access_denied(method)
        source = environ.get("HTTP_X_AMZ_COPY_SOURCE")
        if source and method == "PUT":
            bucket = unquote(source.lstrip("/")).split("/", 1)[0]
            if bucket and not self.allows(bucket, caller):
                return _access_denied(method)
        return None

    def _list_buckets(
        self, environ: WSGIEnvironment, start_response: StartResponse, caller: str
    ) -> Iterable[bytes]:
        """ListBuckets: the caller's buckets only (moto lists every bucket, and cuts the list
        at `max-buckets` itself, so that limit is applied here, after the filter)."""
        moto = self.moto
        others = {name for name in moto.buckets() if self.owner(name) != caller}
        if not others:
            return moto.app(environ, start_response)
        path, query = addressing.raw_target(environ)
        pairs = parse_qsl(query, keep_blank_values=True)
        limit = next((value for name, value in pairs if name == "max-buckets"), None)
        query = urlencode([(name, value) for name, value in pairs if name != "max-buckets"])
        environ["QUERY_STRING"] = query
        environ["RAW_URI"] = environ["REQUEST_URI"] = path + ("?" + query if query else "")
        answered: list[Any] = []

        def capture(
            status: str, headers: list[tuple[str, str]], exc_info: object = None
        ) -> Callable[[bytes], object]:
            answered[:] = [status, headers]
            return lambda data: None

        body = b"".join(moto.app(environ, capture))
        status, headers = answered
        if not status.startswith("200"):
            start_response(status, headers)
            return [body]
        body = _without_buckets(body, others, int(limit) if limit and limit.isdigit() else None)
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(status, [*headers, ("Content-Length", str(len(body)))])
        return [body]

    # -- mirroring -------------------------------------------------------------------------------

    def _mirror(self, target: addressing.Target, method: str, answer: bytes, caller: str) -> None:
        bucket, key = target.bucket, target.key
        if not bucket:
            return
        query = parse_qs(target.query, keep_blank_values=True)
        if key:
            if "uploadId" in query:
                if method == "POST":
                    self._sync_key(bucket, key)  # CompleteMultipartUpload
                return  # a part, or an aborted upload: not an object yet
            if method == "POST" and "uploads" in query:
                return  # CreateMultipartUpload
            if not _UNKEPT & query.keys():
                self._sync_key(bucket, key)
        elif not query or "versioning" in query:
            if method == "POST":  # a browser-form upload names its key in the form
                self._reconcile(bucket)
            else:
                self._sync_bucket(bucket, caller)
        elif "delete" in query:
            for name in _keys_in(answer):
                self._sync_key(bucket, name)
        self.blobs.collect(self._still_used)

    def put_object(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        """Write an object from inside fakerek (training outputs), durably as a PUT would."""
        self.moto.put(bucket, key, data, {"Content-Type": content_type})
        with self._lock:
            try:
                self._sync_key(bucket, key)
            except Exception:
                self._undo(addressing.Target(bucket, key, ""))
                raise

    def _sync_bucket(self, name: str, caller: str) -> None:
        """Store a bucket as moto now has it: created (by `caller`, unless it had an owner),
        versioned, or gone."""
        region = self.moto.buckets().get(name)
        owner = self._owners.get(name, caller)
        with self.store.write() as tx:
            if region is None:
                unused = index.delete_bucket(tx, name)
            else:
                index.put_bucket(tx, name, region, self.moto.versioning(name), wall_ms(), owner)
                unused = []
        if region is None:
            self._owners.pop(name, None)
        else:
            self._owners[name] = owner
        self.blobs.retire(unused)

    def _sync_key(self, bucket: str, key: str) -> None:
        """Store every version of a key as moto now has it."""
        live = self.moto.versions(bucket, key)
        rows, new_blobs = [], []
        for version, fake in live:
            blob = version.blob
            if fake is not None and blob is None:
                blob = self.blobs.write(functools.partial(self.moto.copy_bytes, fake))
                new_blobs.append((fake, blob))
            info = version.info
            rows.append(
                index.VersionRow(
                    version.version_id,
                    version.deleted,
                    blob,
                    None if info is None else info.size,
                    None if info is None else info.etag,
                    None if info is None else info.metadata,
                    version.tags,
                    version.modified_ms,
                )
            )
        with self.store.write() as tx:
            if live:
                index.put_bucket(
                    tx,
                    bucket,
                    self.moto.buckets().get(bucket, self.region),
                    self.moto.versioning(bucket),
                    wall_ms(),
                    self._owners.get(bucket),
                )
            unused = index.put_key(tx, bucket, key, rows)
        for fake, blob in new_blobs:
            self.moto.attach(fake, self.blobs.path(blob), blob)
        self.blobs.retire(unused)

    def _reconcile(self, bucket: str) -> None:
        """Store the keys of a bucket whose bytes are not stored yet, forget the keys moto no
        longer has (after a request that does not say which keys it changed)."""
        live = set(self.moto.keys(bucket))
        with self.store.read() as conn:
            stored = set(index.key_names(conn, bucket))
        for key in live - stored | stored - live:
            self._sync_key(bucket, key)
        for key in live & stored:
            if any(v.blob is None and not v.deleted for v, _ in self.moto.versions(bucket, key)):
                self._sync_key(bucket, key)

    def _still_used(self, blobs: list[str]) -> set[str]:
        with self.store.read() as conn:
            return set(blobs) - set(index.unused(conn, blobs))

    def _undo(self, target: addressing.Target) -> None:
        """Bring moto back to what the index holds for what a failed mirror touched."""
        try:
            with self.store.read() as conn:
                bucket_stored = any(b.name == target.bucket for b in index.buckets(conn))
                stored = (
                    [index.stored_key(conn, target.bucket, target.key)]
                    if target.key
                    else list(index.stored_keys(conn, target.bucket))
                )
            if not bucket_stored and not any(stored):
                if not target.key:
                    self.moto.delete_bucket(target.bucket)
                else:
                    self.moto.forget(target.bucket, target.key)
                return
            if target.key and stored[0] is None:
                self.moto.forget(target.bucket, target.key)
                return
            for found in stored:
                if found is not None:
                    self._restore_key(self.moto, found)
        except StoreClosed:  # the server is stopping: what is in memory goes with it
            log.warning("the S3 change to /%s/%s is not kept", target.bucket, target.key)
        except Exception:
            log.exception(
                "could not undo the S3 change to /%s/%s in memory", target.bucket, target.key
            )

    # -- start-up and reset ----------------------------------------------------------------------

    def _restore_key(self, moto: MotoS3, found: index.StoredKey) -> None:
        moto.restore(
            found.bucket,
            found.key,
            [
                (
                    Version(
                        v.version_id,
                        v.deleted,
                        v.modified_ms,
                        None
                        if v.deleted or v.size is None
                        else KeyInfo(v.size, v.etag or "", v.metadata or {}),
                        v.tags,
                        v.blob,
                    ),
                    None if v.blob is None else self.blobs.path(v.blob),
                )
                for v in found.versions
            ],
        )

    def _restore(self, moto: MotoS3) -> None:
        """Replay the index into moto, repairing it on the way; never fails the start-up."""
        try:
            with self.store.read() as conn:
                buckets = index.buckets(conn)
                keys = list(index.stored_keys(conn))
        except Exception:
            log.exception("the embedded S3's index cannot be read: starting with no objects")
            return
        for bucket in buckets:
            try:
                moto.create_bucket(bucket.name, bucket.region)
                moto.set_versioning(bucket.name, bucket.versioning)
                self._owners[bucket.name] = bucket.owner
            except Exception:
                log.exception("bucket %s cannot be restored", bucket.name)
        restored = 0
        for found in keys:
            try:
                restored += self._restore_checked(moto, found)
            except Exception:
                log.exception(
                    "s3://%s/%s cannot be restored; its index rows are kept",
                    found.bucket,
                    found.key,
                )
        if buckets or keys:
            log.info("restored %d S3 buckets and %d keys", len(buckets), restored)
        try:
            with self.store.read() as conn:
                removed = self.blobs.sweep(index.used_blobs(conn))
            if removed:
                log.info("removed %d stored S3 blobs no object uses", removed)
        except Exception:
            log.exception("unused S3 blobs could not be swept")

    def _restore_checked(self, moto: MotoS3, found: index.StoredKey) -> int:
        """Restore one key, repairing its bucket row or dropping versions without bytes."""
        bucket, key = found.bucket, found.key
        if found.unreadable:
            log.error(
                "s3://%s/%s cannot be restored: its index rows are unreadable; they are "
                "kept as they are",
                bucket,
                key,
            )
            return 0
        kept = []
        for position, version in enumerate(found.versions):
            if version.blob is not None and not os.path.exists(self.blobs.path(version.blob)):
                log.warning(
                    "repair: s3://%s/%s (version %s) is dropped: its stored bytes (blob %s) "
                    "are missing",
                    bucket,
                    key,
                    version.version_id,
                    version.blob,
                )
                with self.store.write() as tx:
                    index.drop_version(tx, bucket, key, position)
            else:
                kept.append(version)
        if not kept:
            return 0
        if not moto.has_bucket(bucket):
            log.warning(
                "repair: bucket %s is restored (region %s): it holds stored objects but had "
                "no bucket row",
                bucket,
                self.region,
            )
            moto.create_bucket(bucket, self.region)
            with self.store.write() as tx:
                index.put_bucket(tx, bucket, self.region, None, wall_ms())
        self._restore_key(moto, index.StoredKey(bucket, key, kept))
        return 1

    def reset(self) -> None:
        """Empty every bucket (the store's reset clears the index)."""
        moto = self.moto
        with self._lock:
            moto.reset()
            self._owners.clear()
            self.blobs.clear()


def _internal_error(start_response: StartResponse) -> list[bytes]:
    """S3's InternalError (500), in S3's XML shape; SDKs retry it."""
    return s3_error(
        start_response,
        "500 Internal Server Error",
        "InternalError",
        "We encountered an internal error. Please try again.",
    )


def _access_denied(method: str) -> Callable[[StartResponse], list[bytes]]:
    return functools.partial(
        s3_error,
        status="403 Forbidden",
        code="AccessDenied",
        message="Access Denied",
        head=method == "HEAD",
    )


def s3_error(
    start_response: StartResponse,
    status: str,
    code: str,
    message: str,
    extra: dict[str, str] | None = None,
    head: bool = False,
) -> list[bytes]:
    """An S3 error in S3's XML shape (`extra`: elements after the message); an answer to HEAD
    has no body."""
    request_id = uuid.uuid4().hex[:16].upper()
    more = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in (extra or {}).items())
    body = ERROR.format(
        code=code, message=escape(message), extra=more, request_id=request_id
    ).encode()
    start_response(
        status,
        [
            ("Content-Type", "application/xml"),
            ("Content-Length", "0" if head else str(len(body))),
            ("x-amz-request-id", request_id),
        ],
    )
    return [] if head else [body]


def _without_buckets(body: bytes, left_out: set[str], limit: int | None) -> bytes:
    """A ListBuckets answer without the buckets `left_out`, cut to `limit` buckets.

    Elements are matched by local name: moto's namespace has varied (5.1.0 writes S3's without
    its trailing slash), and the answer keeps whichever one moto wrote."""
    root = ElementTree.fromstring(body)
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    container = next((child for child in root if _local(child.tag) == "Buckets"), None)
    if container is None:
        return body
    kept = 0
    for bucket in list(container):
        name = next((child.text for child in bucket if _local(child.tag) == "Name"), None)
        if name in left_out or (limit is not None and kept >= limit):
            container.remove(bucket)
        else:
            kept += 1
    out: bytes = ElementTree.tostring(
        root, encoding="UTF-8", xml_declaration=True, default_namespace=namespace or None
    )
    return out


def _local(tag: str) -> str:
    """An element's name without its namespace."""
    return tag.rsplit("}", 1)[-1]


def _keys_in(answer: bytes) -> list[str]:
    """The keys a DeleteObjects answer names, deleted or not."""
    try:
        root = ElementTree.fromstring(answer)
    except ElementTree.ParseError:
        return []
    return [
        element.text or ""
        for element in root.iter()
        if _local(element.tag) == "Key" and element.text is not None
    ]

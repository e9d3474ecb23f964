"""Reading and writing users' S3 objects (manifests, images, training outputs).

Two back ends with one interface: the embedded S3 (moto's backend in this process) and an
external S3-compatible endpoint (`--s3-endpoint-url`). Failures are reduced to three kinds that
the callers map to the AWS error each operation documents. The embedded S3 is reached as one
account, the caller's: another account's bucket is denied, as S3 denies it.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from fakerek.adapters.moto_s3 import Key
    from fakerek.s3.embedded import EmbeddedS3

CHUNK = 1024 * 1024


class ObjectError(Exception):
    """Reading or writing an object failed; `kind` is missing | denied | failed."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind = kind


class Objects(Protocol):
    def size(self, bucket: str, key: str, version: str | None = None) -> int: ...

    def open(self, bucket: str, key: str, version: str | None = None) -> IO[bytes]: ...

    def read(
        self, bucket: str, key: str, version: str | None = None, limit: int | None = None
    ) -> bytes: ...

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None: ...

    def bucket_exists(self, bucket: str) -> bool: ...

    def denies(self, bucket: str) -> bool:
        """Whether every read of the bucket is refused (a denied bucket, another account's)."""
        ...

    def keys(self, bucket: str, prefix: str, limit: int) -> list[str]: ...


def iter_chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk


class EmbeddedObjects:
    """Objects of the S3 served on fakerek's own port, as `account` reaches them."""

    def __init__(self, s3: EmbeddedS3, account: str, denied: frozenset[str] = frozenset()):
        self.s3 = s3
        self.account = account
        self.denied = denied

    def denies(self, bucket: str) -> bool:
        return bucket in self.denied or not self.s3.allows(bucket, self.account)

    def _key(self, bucket: str, key: str, version: str | None) -> Key:
        if self.denies(bucket):
            raise ObjectError("denied", f"access to bucket {bucket} is denied")
        if not self.s3.moto.has_bucket(bucket):
            raise ObjectError("missing", f"bucket {bucket} does not exist")
        found = self.s3.moto.get(bucket, key, version)
        if found is None:
            raise ObjectError("missing", f"s3://{bucket}/{key} does not exist")
        return found

    def size(self, bucket: str, key: str, version: str | None = None) -> int:
        return self.s3.moto.info(self._key(bucket, key, version)).size

    def open(self, bucket: str, key: str, version: str | None = None) -> IO[bytes]:
        """A private copy of the object's bytes, read without loading them all at once."""
        found = self._key(bucket, key, version)
        copy = tempfile.SpooledTemporaryFile(max_size=8 * CHUNK)  # noqa: SIM115 - returned
        self.s3.moto.copy_bytes(found, copy)
        copy.seek(0)
        return copy

    def read(
        self, bucket: str, key: str, version: str | None = None, limit: int | None = None
    ) -> bytes:
        return self.s3.moto.read(self._key(bucket, key, version), limit)

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        if self.denies(bucket):
            raise ObjectError("denied", f"access to bucket {bucket} is denied")
        if not self.s3.moto.has_bucket(bucket):
            raise ObjectError("missing", f"cannot write to bucket {bucket}")
        try:
            self.s3.put_object(bucket, key, data, content_type)
        except Exception as error:  # logged by the embedded S3, which undid the write
            raise ObjectError(
                "failed", f"s3://{bucket}/{key} could not be stored: {error}"
            ) from None

    def bucket_exists(self, bucket: str) -> bool:
        return not self.denies(bucket) and self.s3.moto.has_bucket(bucket)

    def keys(self, bucket: str, prefix: str, limit: int) -> list[str]:
        """Up to `limit` existing keys that start with `prefix`, in key order."""
        if self.denies(bucket):
            raise ObjectError("denied", f"access to bucket {bucket} is denied")
        if not self.s3.moto.has_bucket(bucket):
            raise ObjectError("missing", f"bucket {bucket} does not exist")
        moto = self.s3.moto
        found = sorted(k for k in moto.keys(bucket) if k.startswith(prefix))
        return [k for k in found if moto.get(bucket, k) is not None][:limit]


class ExternalObjects:
    """Objects of an S3-compatible endpoint, reached with botocore."""

    def __init__(self, endpoint_url: str | None, region: str, denied: frozenset[str] = frozenset()):
        import botocore.session
        from botocore.config import Config

        session = botocore.session.get_session()
        credentials = session.get_credentials()
        self.client = session.create_client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=None if credentials else "fakerek",
            aws_secret_access_key=None if credentials else "fakerek",
            config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 2}),
        )
        self.denied = denied

    def _call(self, bucket: str, name: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        if bucket in self.denied:
            raise ObjectError("denied", f"access to bucket {bucket} is denied")
        try:
            return getattr(self.client, name)(Bucket=bucket, **kwargs)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            kind = (
                "denied"
                if code in ("AccessDenied", "403")
                else (
                    "missing"
                    if code in ("NoSuchKey", "NoSuchBucket", "404", "NoSuchVersion")
                    else "failed"
                )
            )
            raise ObjectError(kind, f"s3://{bucket}/{kwargs.get('Key', '')}: {code}") from None
        except BotoCoreError as error:
            raise ObjectError("failed", str(error)) from None

    @staticmethod
    def _version(version: str | None) -> dict[str, str]:
        return {"VersionId": version} if version else {}

    def size(self, bucket: str, key: str, version: str | None = None) -> int:
        head = self._call(bucket, "head_object", Key=key, **self._version(version))
        size: int = head["ContentLength"]
        return size

    def open(self, bucket: str, key: str, version: str | None = None) -> IO[bytes]:
        body: IO[bytes] = self._call(bucket, "get_object", Key=key, **self._version(version))[
            "Body"
        ]
        return body

    def read(
        self, bucket: str, key: str, version: str | None = None, limit: int | None = None
    ) -> bytes:
        """The object's bytes; with `limit`, at most that many (an HTTP range request)."""
        extra = {"Range": f"bytes=0-{limit - 1}"} if limit else {}
        found = self._call(bucket, "get_object", Key=key, **self._version(version), **extra)
        data: bytes = found["Body"].read()
        return data

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        self._call(bucket, "put_object", Key=key, Body=io.BytesIO(data), ContentType=content_type)

    def bucket_exists(self, bucket: str) -> bool:
        try:
            self._call(bucket, "head_bucket")
            return True
        except ObjectError:
            return False

    def denies(self, bucket: str) -> bool:
        """Only the denied buckets: the endpoint answers for the others, object by object."""
        return bucket in self.denied

    def keys(self, bucket: str, prefix: str, limit: int) -> list[str]:
        """Up to `limit` keys that start with `prefix`, in key order."""
        out: list[str] = []
        token: dict[str, str] = {}
        while len(out) < limit:
            page = self._call(
                bucket,
                "list_objects_v2",
                Prefix=prefix,
                MaxKeys=min(1000, limit - len(out)),
                **token,
            )
            out += [item["Key"] for item in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                break
            token = {"ContinuationToken": page["NextContinuationToken"]}
        return out

"""Browser-form uploads (S3's POST Object with a signed policy): who signed one.

Such a request carries no `Authorization` header and no signed query: the signer's access key is
a field of its multipart body (`x-amz-credential` for SigV4, `AWSAccessKeyId` for SigV2; S3 reads
field names without regard to case). The fields stand before the file, which S3 wants last, so
only they are read (the file's bytes are not scanned or copied); the body is handed on whole as a
fresh stream for whoever serves the request next.
"""

from __future__ import annotations

import email.message
import email.parser
import io
from typing import Any

from fakerek.s3.addressing import Target

FORM = "multipart/form-data"
_CREDENTIALS = ("x-amz-credential", "awsaccesskeyid")


def is_form_upload(environ: dict[str, Any], target: Target) -> bool:
    """`POST` to a bucket (no key, no sub-resource) with a multipart form body."""
    content_type = environ.get("CONTENT_TYPE", "")
    return (
        environ.get("REQUEST_METHOD") == "POST"
        and bool(target.bucket)
        and not target.key
        and not target.query
        and content_type.split(";", 1)[0].strip().lower() == FORM
    )


def access_key(environ: dict[str, Any]) -> str | None:
    """The access key id a form upload is signed with, or None when its fields name none."""
    body = _read_body(environ)
    kind = email.message.Message()
    kind["Content-Type"] = environ.get("CONTENT_TYPE", "")
    boundary = kind.get_boundary()
    if not boundary:
        return None
    delimiter = b"--" + boundary.encode("latin-1")
    at = body.find(delimiter)
    while at != -1 and not body.startswith(b"--", at + len(delimiter)):
        start = at + len(delimiter) + 2  # past the delimiter's line end
        head_end = body.find(b"\r\n\r\n", start)
        if head_end == -1:
            return None
        head = email.parser.HeaderParser().parsestr(body[start:head_end].decode("latin-1"))
        if head.get_filename() is not None:
            return None  # the file: no field after it counts
        at = body.find(delimiter, head_end)
        name = str(head.get_param("name", "", header="content-disposition")).lower()
        if name in _CREDENTIALS and at != -1:
            value = body[head_end + 4 : at].removesuffix(b"\r\n").decode("utf-8", "replace")
            text = value.strip()
            return text.split("/", 1)[0] if name == "x-amz-credential" else text
    return None


def _read_body(environ: dict[str, Any]) -> bytes:
    stream = environ["wsgi.input"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        length = -1
    body: bytes = stream.read(length) if length >= 0 else stream.read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body

"""Which bucket and key an S3 request names: fakerek's own reading of Host and request target.

Virtual-host style on `<bucket>.localhost` (what SDKs use with `addressing_style="virtual"` and a
`localhost` endpoint); path style (`/<bucket>/<key>`) for every other host: IP addresses, bare
host names, names with dots. The raw request target is read (not the decoded PATH_INFO), so a key
keeps its exact bytes: `%`, `?`, `+`, `#` and the rest mean what the client encoded.

`to_path_style` rewrites a request into the path-style form, which is the only form moto is
given: moto and fakerek cannot disagree on which object a request touched.
"""

from __future__ import annotations

from typing import Any, NamedTuple
from urllib.parse import quote, unquote, urlsplit

VIRTUAL_SUFFIX = ".localhost"


class Target(NamedTuple):
    bucket: str  # "" for the service (ListBuckets)
    key: str  # "" for a bucket request
    query: str  # the raw query string


def raw_target(environ: dict[str, Any]) -> tuple[str, str]:
    """(raw path, raw query) as the client sent them."""
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if not raw:  # a WSGI server that keeps no raw target: rebuild it from the decoded path
        path = environ.get("PATH_INFO", "").encode("latin-1")
        raw = quote(path, safe="/") + (
            "?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else ""
        )
    if not raw.startswith("/"):  # absolute form: http://host/path?query
        parts = urlsplit(raw)
        raw = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    path, _, query = raw.partition("?")
    return path, query


def virtual_bucket(host: str) -> str | None:
    """The bucket a `<bucket>.localhost[:port]` Host names, or None for path style."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if name.lower().endswith(VIRTUAL_SUFFIX) and len(name) > len(VIRTUAL_SUFFIX):
        return name[: -len(VIRTUAL_SUFFIX)]
    return None


def _decode(raw: str) -> str:
    return unquote(raw, encoding="utf-8", errors="surrogateescape")


def is_text(found: Target) -> bool:
    """The bucket and key are UTF-8 text: no percent-escape decoded to a lone byte."""
    try:
        found.bucket.encode("utf-8")
        found.key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def target(environ: dict[str, Any]) -> Target:
    path, query = raw_target(environ)
    bucket = virtual_bucket(environ.get("HTTP_HOST", ""))
    if bucket is not None:
        return Target(bucket, _decode(path[1:]), query)
    raw_bucket, _, raw_key = path[1:].partition("/")
    return Target(_decode(raw_bucket), _decode(raw_key), query)


def to_path_style(environ: dict[str, Any]) -> Target:
    """Rewrite a request in place into its path-style form, with the raw target where moto reads
    it (`RAW_URI`); return the target."""
    found = target(environ)
    path, query = raw_target(environ)
    host = environ.get("HTTP_HOST", "")
    if virtual_bucket(host) is not None:
        path = "/" + quote(found.bucket, safe="") + (path if path != "/" else "")
        port = host.rpartition(":")[2] if ":" in host else ""
        environ["HTTP_HOST"] = f"localhost:{port}" if port else "localhost"
    environ["RAW_URI"] = environ["REQUEST_URI"] = path + ("?" + query if query else "")
    environ["PATH_INFO"] = unquote(path, encoding="latin-1")
    return found

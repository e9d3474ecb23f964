"""CORS on the Rekognition endpoint and S3: which other sites' web pages may call them.

Nothing is signed or checked on a local AWS, so no site may use it from a browser unless
`--cors-origins` lists it (none by default). For a listed origin, a preflight (OPTIONS) answers
200 with the methods and the request headers an AWS SDK sends (`x-amz-*`, `amz-sdk-*`,
`authorization`, `content-type` and the standard headers of S3 calls), and every answer names
the origin in `Access-Control-Allow-Origin` and exposes the response headers SDKs read
(`x-amzn-RequestId`, `x-amzn-ErrorType`, `ETag`, `x-amz-*`, `Date` for clock skew). The
pipeline refuses the other origins.

moto's S3 brings CORS of its own (a flask-cors that echoes any origin, and the buckets' CORS
configurations); this module decides instead: OPTIONS never reaches moto, and moto's
`Access-Control-*` headers are dropped from its answers (`without_cors`). PutBucketCors and
GetBucketCors still store and return a bucket's configuration.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from fakerek.web.hosts import parse_origin

METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")
HEADER_PREFIXES = ("x-amz-", "amz-sdk-")
HEADERS = frozenset(
    {
        "authorization",
        "content-type",
        "content-md5",
        "cache-control",
        "content-disposition",
        "content-encoding",
        "content-language",
        "expires",
        "if-match",
        "if-none-match",
        "if-modified-since",
        "if-unmodified-since",
        "range",
    }
)
EXPOSED = (
    "x-amzn-RequestId",
    "x-amzn-ErrorType",
    "x-amz-request-id",
    "x-amz-id-2",
    "ETag",
    "Date",
    "Content-Range",
    "Content-Disposition",
    "Content-Encoding",
    "Accept-Ranges",
)
EXPOSED_PREFIXES = ("x-amz-", "x-amzn-")
MAX_AGE_SECONDS = 600


class Preflight(NamedTuple):
    """A preflight's answer: the headers of a 200, or why it is refused."""

    headers: list[tuple[str, str]]
    refused: str = ""
    malformed: bool = False  # refused because it is no preflight at all (400, not 403)


def normal(origin: str) -> str:
    """An origin as browsers write it, so that `HTTP://LocalHost:80` matches `http://localhost`."""
    found = parse_origin(origin)
    return str(found) if found is not None else origin.strip()


class CorsRules:
    def __init__(self, origins: Iterable[str]):
        listed = {normal(origin) for origin in origins}
        self.any = "*" in listed
        self.origins = frozenset(listed - {"*"})

    def allows(self, origin: str) -> bool:
        return self.any or normal(origin) in self.origins

    def preflight(self, origin: str, method: str | None, headers: str | None) -> Preflight:
        """The answer to `OPTIONS` from an allowed `origin` asking for `method` and `headers`
        (Access-Control-Request-Method and -Headers)."""
        if not method:
            return Preflight([], "a CORS preflight names Access-Control-Request-Method", True)
        if method not in METHODS:
            return Preflight([], f"CORS allows the methods {', '.join(METHODS)}; not {method}")
        asked = [h.strip().lower() for h in (headers or "").split(",") if h.strip()]
        unknown = [h for h in asked if h not in HEADERS and not h.startswith(HEADER_PREFIXES)]
        if unknown:
            return Preflight([], f"CORS does not allow the request headers {', '.join(unknown)}")
        answer = [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Allow-Methods", ", ".join(METHODS)),
            ("Access-Control-Max-Age", str(MAX_AGE_SECONDS)),
            ("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
        ]
        if asked:
            answer.append(("Access-Control-Allow-Headers", ", ".join(asked)))
        return Preflight(answer)

    @staticmethod
    def response_headers(origin: str, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """What an answer to an allowed cross-origin request adds to its own `headers`."""
        exposed: dict[str, str] = {}
        present = (name for name, _ in headers if name.lower().startswith(EXPOSED_PREFIXES))
        for name in (*EXPOSED, *present):
            exposed.setdefault(name.lower(), name)
        return [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Expose-Headers", ", ".join(exposed.values())),
            ("Vary", "Origin"),
        ]


def without_cors(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`headers` without the CORS headers moto adds (`Access-Control-*`, `Vary: Origin`):
    this module overrules them."""
    return [
        (name, value)
        for name, value in headers
        if not name.lower().startswith("access-control-")
        and not (name.lower() == "vary" and value.strip().lower() == "origin")
    ]

"""The WSGI application: one router in front of the control API, Rekognition and S3.

`/_fakerek/…` goes to the control API; a request carrying `X-Amz-Target` (or the JSON 1.1
content type) to the Rekognition protocol; anything else is an S3 request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from fakerek import control, serving
from fakerek.capacity import Capacity, Clock
from fakerek.config import RuntimeConfig, Settings
from fakerek.faults import Faults
from fakerek.http import json_response
from fakerek.jobs import Jobs
from fakerek.objects import EmbeddedObjects, ExternalObjects, Objects
from fakerek.operations import datasets, versions
from fakerek.protocol import handler
from fakerek.rules import Rules
from fakerek.s3.embedded import EmbeddedS3
from fakerek.store.db import Store

log = logging.getLogger("fakerek")


class App:
    """Everything a request may touch: live settings, the store, pending faults."""

    def __init__(self, settings: Settings, store: Store, s3: EmbeddedS3 | None = None):
        self.config = RuntimeConfig(settings)
        self.store = store
        self.faults = Faults()
        self.s3 = s3
        self.jobs = Jobs()
        self.models = serving.Models()
        self.capacity = Capacity(Clock())
        self.rules = Rules()
        self._objects: dict[tuple, Objects] = {}
        datasets.recover(store)
        versions.recover(store)

    def objects(self, settings: Settings) -> Objects:
        """Access to users' S3 objects under the current settings (kept while they hold)."""
        key = (settings.s3_endpoint_url, settings.denied_buckets, settings.region)
        found = self._objects.get(key)
        if found is None:
            if settings.s3_endpoint_url:
                found = ExternalObjects(
                    settings.s3_endpoint_url, settings.region, settings.denied_buckets
                )
            else:
                assert self.s3 is not None, "no embedded S3 and no external endpoint"
                found = EmbeddedObjects(self.s3, settings.denied_buckets)
            self._objects[key] = found
        return found

    def reset(self) -> None:
        """Back to a fresh server: no resources in any account, start-up settings, no faults."""
        self.jobs.wait_all(self.config.snapshot().max_wait_seconds)
        self.store.reset()
        if self.s3 is not None:
            self.s3.reset()
        self.faults.clear()
        self.rules.clear()
        self.models.clear()
        self.capacity.reset()
        self.config.reset()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        started = time.perf_counter()
        path = environ.get("PATH_INFO", "")
        is_control = path.startswith(control.PREFIX)
        if not is_control and not _is_rekognition(environ):
            if self.s3 is None:
                external = self.config.snapshot().s3_endpoint_url
                response = json_response(
                    404,
                    {"error": f"this fakerek does not serve S3; it uses the S3 at {external}"},
                    label=f"S3 {_text(path)}",
                )
                start_response(response.status_line, [("Content-Type", response.content_type)])
                return [response.body]
            body = self.s3(environ, start_response)
            log.info(
                "S3 %s %s %.2fms",
                environ.get("REQUEST_METHOD"),
                _text(path),
                (time.perf_counter() - started) * 1000,
            )
            return body
        try:
            if is_control:
                response = control.handle(self, environ)
            else:
                response = handler.handle(self, environ)
        except Exception:  # a bug below: log it, answer without leaking a stack trace
            log.exception("unexpected error serving %s", environ.get("PATH_INFO"))
            response = json_response(
                500,
                {"error": "internal error; see the fakerek log"},
                label=environ.get("PATH_INFO", "?"),
            )
        elapsed_ms = (time.perf_counter() - started) * 1000
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
            ("Server-Timing", f"app;dur={elapsed_ms:.3f}"),
            *response.headers,
        ]
        log.info("%s %d %.2fms", response.label, response.status, elapsed_ms)
        start_response(response.status_line, headers)
        return [response.body]


def _is_rekognition(environ: dict[str, Any]) -> bool:
    return "HTTP_X_AMZ_TARGET" in environ or environ.get("CONTENT_TYPE", "").startswith(
        "application/x-amz-json"
    )


def _text(path: str) -> str:
    """PATH_INFO carries UTF-8 bytes as latin-1 characters (PEP 3333)."""
    try:
        return path.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return path

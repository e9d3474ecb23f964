"""The WSGI application: one router in front of the control API and the Rekognition protocol."""

from __future__ import annotations

import logging
import time
from typing import Any

from fakerek import control
from fakerek.config import RuntimeConfig, Settings
from fakerek.faults import Faults
from fakerek.http import json_response
from fakerek.protocol import handler
from fakerek.store.db import Store

log = logging.getLogger("fakerek")


class App:
    """Everything a request may touch: live settings, the store, pending faults."""

    def __init__(self, settings: Settings, store: Store):
        self.config = RuntimeConfig(settings)
        self.store = store
        self.faults = Faults()

    def reset(self) -> None:
        """Back to a fresh server: no resources in any account, start-up settings, no faults."""
        self.store.reset()
        self.faults.clear()
        self.config.reset()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        started = time.perf_counter()
        try:
            if environ.get("PATH_INFO", "").startswith(control.PREFIX):
                response = control.handle(self, environ)
            else:
                response = handler.handle(self, environ)
        except Exception:  # a bug below: log it, answer without leaking a stack trace
            log.exception("unexpected error serving %s", environ.get("PATH_INFO"))
            response = json_response(500, {"error": "internal error; see the fakerek log"},
                                     label=environ.get("PATH_INFO", "?"))
        elapsed_ms = (time.perf_counter() - started) * 1000
        headers = [("Content-Type", response.content_type),
                   ("Content-Length", str(len(response.body))),
                   ("Server-Timing", f"app;dur={elapsed_ms:.3f}"), *response.headers]
        log.info("%s %d %.2fms", response.label, response.status, elapsed_ms)
        start_response(response.status_line, headers)
        return [response.body]

"""Fault injection: make the next N calls of an operation fail with a chosen AWS error."""

from __future__ import annotations

import threading
from typing import Any

from fakerek.protocol.errors import AwsError
from fakerek.protocol.model import CUSTOM_LABELS_OPERATIONS, service

DEFAULT_MESSAGES = {
    "ThrottlingException": "Rate exceeded",
    "ProvisionedThroughputExceededException": "Provisioned rate exceeded",
    "InternalServerError": "Amazon Rekognition experienced a service issue. Try your call again.",
    "AccessDeniedException": "User is not authorized to perform this action.",
}


class FaultError(ValueError):
    """A fault request that cannot be honoured; the message says why."""


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []

    def add(self, spec: Any) -> dict[str, Any]:
        if not isinstance(spec, dict):
            raise FaultError("the body must be a JSON object")
        unknown = spec.keys() - {"operation", "error", "message", "count"}
        if unknown:
            raise FaultError(f"unknown key(s): {', '.join(sorted(unknown))}")
        op, error = spec.get("operation"), spec.get("error")
        if op not in CUSTOM_LABELS_OPERATIONS:
            raise FaultError(f"operation must be a Custom Labels operation name, not {op!r}")
        if not isinstance(error, str) or error not in service().errors_of(op):
            raise FaultError(f"{op} cannot answer {error!r}; it may answer: "
                             + ", ".join(sorted(service().errors_of(op))))
        count = spec.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise FaultError("count must be an integer >= 1")
        message = spec.get("message") or DEFAULT_MESSAGES.get(error, f"Injected {error}.")
        if not isinstance(message, str):
            raise FaultError("message must be a string")
        fault = {"operation": op, "error": error, "message": message, "count": count}
        with self._lock:
            self._pending.append(fault)
        return fault

    def take(self, operation: str) -> AwsError | None:
        """The error the next call of `operation` must answer, consuming one count."""
        with self._lock:
            for fault in self._pending:
                if fault["operation"] == operation:
                    fault["count"] -= 1
                    if fault["count"] == 0:
                        self._pending.remove(fault)
                    return AwsError(fault["message"], code=fault["error"])
        return None

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(f) for f in self._pending]

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

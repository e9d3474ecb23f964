"""Fault injection: make the next N calls of an operation fail with a chosen AWS error."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Any

from fakerek.api.errors import AwsError
from fakerek.api.service_model import CUSTOM_LABELS_OPERATIONS, service
from fakerek.manifests.codes import ADAPTER_ERRORS, CONTENT_ERRORS, FILE_ERRORS

DEFAULT_MESSAGES = {
    "ThrottlingException": "Rate exceeded",
    "ProvisionedThroughputExceededException": "Provisioned rate exceeded",
    "InternalServerError": "Amazon Rekognition experienced a service issue. Try your call again.",
    "AccessDeniedException": "User is not authorized to perform this action.",
}


TRAINING_CODES = frozenset(FILE_ERRORS) | frozenset(CONTENT_ERRORS) | frozenset(ADAPTER_ERRORS)


class FaultError(ValueError):
    """A fault request that cannot be honoured; the message says why."""


@dataclass
class _CallFault:
    """The next `count` calls of `operation` answer `error` with `message`."""

    operation: str
    error: str
    message: str
    count: int


@dataclass
class _TrainingFault:
    """The next `count` trainings end with `code` (or a service error)."""

    code: str
    count: int


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[_CallFault] = []
        self._training: list[_TrainingFault] = []

    def add(self, spec: object) -> dict[str, Any]:
        """Store the fault a control request describes; return it as listed."""
        if not isinstance(spec, dict):
            raise FaultError("the body must be a JSON object")
        if "training" in spec:
            return self._add_training(spec)
        unknown = spec.keys() - {"operation", "error", "message", "count"}
        if unknown:
            raise FaultError(f"unknown key(s): {', '.join(sorted(unknown))}")
        op, error = spec.get("operation"), spec.get("error")
        if not isinstance(op, str) or op not in CUSTOM_LABELS_OPERATIONS:
            raise FaultError(f"operation must be a Custom Labels operation name, not {op!r}")
        if not isinstance(error, str) or error not in service().errors_of(op):
            raise FaultError(
                f"{op} cannot answer {error!r}; it may answer: "
                + ", ".join(sorted(service().errors_of(op)))
            )
        count = spec.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise FaultError("count must be an integer >= 1")
        message = spec.get("message") or DEFAULT_MESSAGES.get(error, f"Injected {error}.")
        if not isinstance(message, str):
            raise FaultError("message must be a string")
        fault = _CallFault(op, error, message, count)
        with self._lock:
            self._pending.append(fault)
        return dataclasses.asdict(fault)

    def _add_training(self, spec: dict[str, Any]) -> dict[str, Any]:
        fault = spec["training"]
        if len(spec) != 1 or not isinstance(fault, dict) or fault.keys() - {"code", "count"}:
            raise FaultError('a training fault is {"training": {"code": ..., "count": N}}')
        code, count = fault.get("code"), fault.get("count", 1)
        if not isinstance(code, str) or (code != "SERVICE_ERROR" and code not in TRAINING_CODES):
            raise FaultError(
                f"training code must be SERVICE_ERROR or one of {', '.join(sorted(TRAINING_CODES))}"
            )
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise FaultError("count must be an integer >= 1")
        fault = _TrainingFault(code, count)
        with self._lock:
            self._training.append(fault)
        return {"training": dataclasses.asdict(fault)}

    def take_training(self) -> str | None:
        """The failure code the next training must end with, if one was injected."""
        with self._lock:
            if not self._training:
                return None
            fault = self._training[0]
            fault.count -= 1
            if fault.count == 0:
                self._training.pop(0)
            return fault.code

    def take(self, operation: str) -> AwsError | None:
        """The error the next call of `operation` must answer, consuming one count."""
        with self._lock:
            for fault in self._pending:
                if fault.operation == operation:
                    fault.count -= 1
                    if fault.count == 0:
                        self._pending.remove(fault)
                    return AwsError(fault.message, code=fault.error)
        return None

    def list(self) -> list[dict[str, Any]]:
        """The pending faults as the control API lists them."""
        with self._lock:
            return [dataclasses.asdict(f) for f in self._pending] + [
                {"training": dataclasses.asdict(f)} for f in self._training
            ]

    def reset(self) -> None:
        with self._lock:
            self._pending.clear()
            self._training.clear()

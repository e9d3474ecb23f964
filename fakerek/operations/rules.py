"""Deterministic detection results: "this image gets these labels", set by a test.

A rule matches an image by the SHA-256 of its bytes (however they are sent) or by the S3 object
it was named by (`bucket/key`, only for `Image.S3Object` calls). The most recent matching rule
wins. A rule serves one operation:

* DetectCustomLabels (the default): its labels replace the running model's; MinConfidence and
  MaxResults still apply.
* DetectModerationLabels (`"operation": "DetectModerationLabels"`): the base moderation model's
  answer, which is otherwise empty (the base model is a test double). Its labels are categories
  of the moderation taxonomy, each expanded to its parent chain when answered; `content_types`
  are the answer's ContentTypes.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from typing import Any, TypeGuard

from fakerek.domain import taxonomy


class RuleError(ValueError):
    """A rule that cannot be stored; the message says why."""


_SHA256 = re.compile(r"[0-9a-f]{64}")
_BOX_KEYS = ("Width", "Height", "Left", "Top")
CUSTOM_LABELS, MODERATION = "DetectCustomLabels", "DetectModerationLabels"
OPERATIONS = (CUSTOM_LABELS, MODERATION)


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_label(label: Any, index: int) -> dict[str, Any]:
    if not isinstance(label, dict) or label.keys() - {"Name", "Confidence", "Geometry"}:
        raise RuleError(
            f"labels[{index}] must be an object with Name, Confidence and, optionally, Geometry"
        )
    name, confidence = label.get("Name"), label.get("Confidence")
    if not isinstance(name, str) or not name:
        raise RuleError(f"labels[{index}].Name must be a non-empty string")
    if not _number(confidence) or not 0 <= confidence <= 100:
        raise RuleError(f"labels[{index}].Confidence must be a number from 0 to 100")
    out = {"Name": name, "Confidence": float(confidence)}
    if "Geometry" in label:
        box = (
            (label["Geometry"] or {}).get("BoundingBox")
            if isinstance(label["Geometry"], dict)
            else None
        )
        if (
            not isinstance(box, dict)
            or set(box) != set(_BOX_KEYS)
            or not all(_number(box[k]) and 0 <= box[k] <= 1 for k in _BOX_KEYS)
        ):
            raise RuleError(
                f'labels[{index}].Geometry must be {{"BoundingBox": {{Width, '
                "Height, Left, Top}} with ratios from 0 to 1"
            )
        out["Geometry"] = {"BoundingBox": {k: float(box[k]) for k in _BOX_KEYS}}
    return out


def _check_moderation_label(label: Any, index: int, what: str = "labels") -> dict[str, Any]:
    if not isinstance(label, dict) or label.keys() != {"Name", "Confidence"}:
        raise RuleError(f"{what}[{index}] must be an object with Name and Confidence")
    name, confidence = label["Name"], label["Confidence"]
    if not isinstance(name, str) or not name:
        raise RuleError(f"{what}[{index}].Name must be a non-empty string")
    if what == "labels" and name not in taxonomy.current():
        hint = taxonomy.current().closest(name)
        raise RuleError(
            f"{what}[{index}].Name {name!r} is not a moderation category"
            + (f" (did you mean {hint!r}?)" if hint else "")
        )
    if not _number(confidence) or not 0 <= confidence <= 100:
        raise RuleError(f"{what}[{index}].Confidence must be a number from 0 to 100")
    return {"Name": name, "Confidence": float(confidence)}


def _check_match(match: Any) -> dict[str, str]:
    if (
        not isinstance(match, dict)
        or len(match) != 1
        or not (
            (isinstance(match.get("sha256"), str) and _SHA256.fullmatch(match["sha256"].lower()))
            or (isinstance(match.get("s3_key"), str) and "/" in match["s3_key"].strip("/"))
        )
    ):
        raise RuleError('match must be {"sha256": "<64 hex digits>"} or {"s3_key": "bucket/key"}')
    return {k: v.lower() if k == "sha256" else v for k, v in match.items()}


Image = bytes | Callable[[], bytes]  # the bytes, or what reads them (only when a rule needs them)


class Rules:
    def __init__(self) -> None:
        self._rules: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, spec: Any) -> dict[str, Any]:
        operation = spec.get("operation", CUSTOM_LABELS) if isinstance(spec, dict) else None
        if operation == MODERATION:
            allowed, required = {"operation", "match", "labels", "content_types"}, {"match"}
        else:
            allowed, required = {"operation", "match", "labels"}, {"match", "labels"}
        if (
            not isinstance(spec, dict)
            or not required <= spec.keys() <= allowed
            or operation not in OPERATIONS
        ):
            raise RuleError(
                'a rule is {"match": {"sha256": ...} or {"s3_key": "bucket/key"}, "labels": [...]}'
                ', for DetectModerationLabels with "operation": "DetectModerationLabels" and '
                'optionally "content_types": [...]'
            )
        match = _check_match(spec["match"])
        labels, types = spec.get("labels", []), spec.get("content_types", [])
        if not isinstance(labels, list) or not isinstance(types, list):
            raise RuleError("labels and content_types must be lists")
        rule: dict[str, Any] = {"operation": operation, "match": match}
        if operation == MODERATION:
            rule["labels"] = [_check_moderation_label(x, i) for i, x in enumerate(labels)]
            rule["content_types"] = [
                _check_moderation_label(x, i, "content_types") for i, x in enumerate(types)
            ]
        else:
            rule["labels"] = [_check_label(label, i) for i, label in enumerate(labels)]
        with self._lock:
            self._rules.append(rule)
        return rule

    def _find(self, operation: str, image: Image, s3_key: str | None) -> dict[str, Any] | None:
        """The newest rule of `operation` matching the image; the bytes are read and hashed
        only when there are such rules, so detections without rules pay nothing."""
        with self._lock:
            rules: list[dict[str, Any]] = [r for r in self._rules if r["operation"] == operation]
        if not rules:
            return None
        sha256: str | None = None
        for candidate in rules[::-1]:
            match: dict[str, str] = candidate["match"]
            if s3_key and match.get("s3_key") == s3_key:
                return candidate
            if "sha256" in match:
                if sha256 is None:
                    data = image if isinstance(image, bytes) else image()
                    sha256 = hashlib.sha256(data).hexdigest()
                if match["sha256"] == sha256:
                    return candidate
        return None

    def find(self, image: bytes, s3_key: str | None) -> list[dict[str, Any]] | None:
        """The labels DetectCustomLabels answers for the image by rule, if one matches."""
        rule = self._find(CUSTOM_LABELS, image, s3_key)
        return None if rule is None else [dict(label) for label in rule["labels"]]

    def moderation(
        self, image: Image, s3_key: str | None
    ) -> tuple[dict[str, float], list[dict[str, Any]]]:
        """The base moderation model's answer for the image: each category found (expanded to
        its parent chain) with its confidence, and the content types; nothing without a rule."""
        rule = self._find(MODERATION, image, s3_key)
        if rule is None:
            return {}, []
        found: dict[str, float] = {}
        for label in rule["labels"]:
            found[label["Name"]] = max(found.get(label["Name"], 0.0), label["Confidence"])
        types = sorted(rule["content_types"], key=lambda t: -t["Confidence"])
        return taxonomy.current().expand(found), [dict(t) for t in types]

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._rules)

    def reset(self) -> None:
        with self._lock:
            self._rules.clear()

"""Deterministic DetectCustomLabels results: "this image gets these labels", set by a test.

A rule matches an image by the SHA-256 of its bytes (however they are sent) or by the S3 object
it was named by (`bucket/key`, only for `Image.S3Object` calls). The most recent matching rule
wins; MinConfidence and MaxResults still apply to its labels.
"""

from __future__ import annotations

import hashlib
import re
import threading
from typing import Any, TypeGuard


class RuleError(ValueError):
    """A rule that cannot be stored; the message says why."""


_SHA256 = re.compile(r"[0-9a-f]{64}")
_BOX_KEYS = ("Width", "Height", "Left", "Top")


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


class Rules:
    def __init__(self) -> None:
        self._rules: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, spec: Any) -> dict[str, Any]:
        if not isinstance(spec, dict) or spec.keys() != {"match", "labels"}:
            raise RuleError(
                'a rule is {"match": {"sha256": ...} or {"s3_key": "bucket/key"}, "labels": [...]}'
            )
        match, labels = spec["match"], spec["labels"]
        if (
            not isinstance(match, dict)
            or len(match) != 1
            or not (
                (
                    isinstance(match.get("sha256"), str)
                    and _SHA256.fullmatch(match["sha256"].lower())
                )
                or (isinstance(match.get("s3_key"), str) and "/" in match["s3_key"].strip("/"))
            )
        ):
            raise RuleError(
                'match must be {"sha256": "<64 hex digits>"} or {"s3_key": "bucket/key"}'
            )
        if not isinstance(labels, list):
            raise RuleError("labels must be a list")
        rule = {
            "match": {k: v.lower() if k == "sha256" else v for k, v in match.items()},
            "labels": [_check_label(label, i) for i, label in enumerate(labels)],
        }
        with self._lock:
            self._rules.append(rule)
        return rule

    def find(self, image: bytes, s3_key: str | None) -> list[dict[str, Any]] | None:
        """The labels of the newest rule matching the image; the bytes are hashed only when
        there are rules, so detections without rules pay nothing."""
        with self._lock:
            if not self._rules:
                return None
            sha256 = hashlib.sha256(image).hexdigest()
            for rule in reversed(self._rules):
                match = rule["match"]
                if match.get("sha256") == sha256 or (s3_key and match.get("s3_key") == s3_key):
                    return [dict(label) for label in rule["labels"]]
        return None

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._rules)

    def reset(self) -> None:
        with self._lock:
            self._rules.clear()

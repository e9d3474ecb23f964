"""Output serialisation driven by the model: only modeled members, in the wire encodings.

Operations return plain dicts; this walk drops `None` members, writes timestamps as epoch-second
numbers and blobs as base64, and refuses members the output shape does not have, so a typo in an
operation fails its tests instead of reaching a client.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from botocore.model import Shape


def serialize(shape: Shape | None, value: dict[str, Any]) -> dict[str, Any]:
    if shape is None:
        return {}
    return _walk(shape, value, shape.name)


def _walk(shape: Shape, value: Any, where: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        unknown = value.keys() - members.keys()
        if unknown:
            raise KeyError(f"{where} has no member(s) {sorted(unknown)}")
        return {name: _walk(members[name], v, f"{where}.{name}")
                for name, v in value.items() if v is not None}
    if kind == "list":
        return [_walk(shape.member, item, where) for item in value]
    if kind == "map":
        return {k: _walk(shape.value, v, where) for k, v in value.items()}
    if kind == "timestamp":
        if isinstance(value, dt.datetime):
            return value.timestamp()
        return float(value)
    if kind == "blob":
        return base64.b64encode(value).decode("ascii")
    if kind in ("float", "double"):
        return float(value)
    return value

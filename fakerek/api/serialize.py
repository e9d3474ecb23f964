"""Output serialisation driven by the model: only modeled members, in the wire encodings.

Operations return plain dicts; this drops `None` members, writes timestamps as epoch-second
numbers and blobs as base64, and refuses members the output shape does not have, so a typo in an
operation fails its tests instead of reaching a client. Each output shape is compiled once into a
converter; values that need no conversion (strings, integers, booleans) are passed through.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from typing import Any

from botocore.model import Shape

Converter = Callable[[Any], Any] | None  # None: the value goes out as it is
_compiled: dict[int, tuple[Shape, Converter]] = {}


def serialize(shape: Shape | None, value: dict[str, Any]) -> dict[str, Any]:
    if shape is None:
        return {}
    convert = _converter(shape)
    return value if convert is None else convert(value)


def _converter(shape: Shape) -> Converter:
    entry = _compiled.get(id(shape))
    if entry is None or entry[0] is not shape:
        entry = (shape, _compile(shape, shape.name))
        _compiled[id(shape)] = entry
    return entry[1]


def _compile(shape: Shape, where: str) -> Converter:
    kind = shape.type_name
    if kind == "structure":
        members = {
            name: _compile(member, f"{where}.{name}") for name, member in shape.members.items()
        }

        def structure(value: dict[str, Any]) -> dict[str, Any]:
            out = {}
            for name, item in value.items():
                if item is None:
                    continue
                try:
                    convert = members[name]
                except KeyError:
                    raise KeyError(f"{where} has no member {name}") from None
                out[name] = item if convert is None else convert(item)
            return out

        return structure
    if kind == "list":
        item = _compile(shape.member, where)
        if item is None:
            return list
        convert_item: Callable[[Any], Any] = item
        return lambda value: [convert_item(v) for v in value]
    if kind == "map":
        entry = _compile(shape.value, where)
        if entry is None:
            return dict
        convert_entry: Callable[[Any], Any] = entry
        return lambda value: {k: convert_entry(v) for k, v in value.items()}
    if kind == "timestamp":
        return _timestamp
    if kind == "blob":
        return lambda value: base64.b64encode(value).decode("ascii")
    if kind in ("float", "double"):
        return float
    return None


def _timestamp(value: Any) -> float:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    return float(value)

"""Input checking driven by the model: JSON types first, then every modeled constraint.

Phase 1 (types) stops at the first mismatch with a SerializationException; phase 2 collects every
constraint violation into one ValidationException worded like AWS's front end:
`2 validation errors detected: Value 'x y' at 'projectName' failed to satisfy constraint: ...`.
Members the model does not know are ignored and JSON nulls count as absent.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
from typing import Any

import regex
from botocore.model import Shape

from fakerek.api.errors import SerializationError, ValidationError

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
# Java's \d, \s and \w are ASCII-only; Python's are Unicode. Spelled out for both contexts.
_JAVA_CLASSES = {
    "d": ("[0-9]", "0-9"),
    "D": ("[^0-9]", None),
    "s": ("[ \\t\\n\\x0B\\f\\r]", " \\t\\n\\x0B\\f\\r"),
    "S": ("[^ \\t\\n\\x0B\\f\\r]", None),
    "w": ("[a-zA-Z_0-9]", "a-zA-Z_0-9"),
    "W": ("[^a-zA-Z_0-9]", None),
}
# Java's `.` stops at every line terminator, not only at \n.
_JAVA_DOT = "[^\\n\\r\\u0085\\u2028\\u2029]"


@functools.cache
def compile_pattern(pattern: str) -> regex.Pattern:
    """Compile a model (Java) pattern with Java's meaning of `.`, \\d, \\s and \\w."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            repl = _JAVA_CLASSES.get(nxt)
            if repl and (not in_class or repl[1] is not None):
                out.append((repl[1] if in_class else repl[0]) or "")
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
            if pattern[i + 1 : i + 2] == "^":
                out.append("[^")
                i += 2
                if pattern[i : i + 1] == "]":  # a leading ']' is literal
                    out.append("\\]")
                    i += 1
                continue
        elif ch == "]" and in_class:
            in_class = False
        elif ch == "." and not in_class:
            ch = _JAVA_DOT
        out.append(ch)
        i += 1
    return regex.compile("".join(out))


def member_path(parent: str, name: str) -> str:
    """AWS names members lowerCamelCase in messages: `outputConfig.s3Bucket`."""
    camel = name[:1].lower() + name[1:]
    return f"{parent}.{camel}" if parent else camel


def render(value: Any) -> str:
    """A value as the Java front end prints it inside `Value '...'`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, bytes):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    if isinstance(value, list):
        return "[" + ", ".join(render(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{render(k)}={render(v)}" for k, v in value.items()) + "}"
    return str(value)


def parse_input(shape: Shape | None, body: Any) -> dict[str, Any]:
    """Check `body` against the operation's input shape; return it with blobs decoded to bytes."""
    if not isinstance(body, dict):
        raise SerializationError("The request body must be a JSON object.")
    if shape is None:
        return {}
    value: dict[str, Any] = _convert(shape, body, "")
    problems: list[str] = []
    _check(shape, value, "", problems)
    if problems:
        n = len(problems)
        head = f"{n} validation error{'s' if n > 1 else ''} detected: "
        raise ValidationError(head + "; ".join(problems))
    return value


# -- phase 1: JSON types ------------------------------------------------------------------------


def _type_error(path: str, expected: str, value: Any) -> SerializationError:
    got = {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
    }.get(type(value), type(value).__name__)
    where = f"'{path}'" if path else "the top level"
    return SerializationError(f"Expected {expected} at {where} but found a JSON {got}.")


def _convert(shape: Shape, value: Any, path: str) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            raise _type_error(path, "an object", value)
        out = {}
        for name, member in shape.members.items():
            if value.get(name) is not None:
                out[name] = _convert(member, value[name], member_path(path, name))
        return out
    if kind == "list":
        if not isinstance(value, list):
            raise _type_error(path, "an array", value)
        return [
            _convert(shape.member, item, f"{path}.{i}.member")
            for i, item in enumerate(value, 1)
            if item is not None
        ]
    if kind == "map":
        if not isinstance(value, dict):
            raise _type_error(path, "an object", value)
        return {
            k: _convert(shape.value, v, f"{path}.{k}") for k, v in value.items() if v is not None
        }
    if kind == "string":
        if not isinstance(value, str):
            raise _type_error(path, "a string", value)
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _type_error(path, "a boolean", value)
        return value
    if kind in ("integer", "long"):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(path, "an integer", value)
        low, high = INT32 if kind == "integer" else INT64
        if not low <= value <= high:
            raise SerializationError(f"Number {value} at '{path}' is out of range for {kind}.")
        return value
    if kind in ("float", "double", "timestamp"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(path, "a number", value)
        return _as_float(value)
    if kind == "blob":
        if not isinstance(value, str):
            raise _type_error(path, "a base64 string", value)
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise SerializationError(f"Value at '{path}' is not valid base64.") from None
    raise SerializationError(f"Unsupported member type {kind} at '{path}'.")


def _as_float(value: int | float) -> float:
    """A JSON number as a float: an integer beyond every float is an infinity, as `1e400` is."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


# -- phase 2: modeled constraints ---------------------------------------------------------------


def _check(shape: Shape, value: Any, path: str, problems: list[str]) -> None:
    kind = shape.type_name
    if kind == "structure":
        for name in shape.required_members:
            if name not in value:
                problems.append(
                    f"Value null at '{member_path(path, name)}' failed to satisfy "
                    "constraint: Member must not be null"
                )
        for name, member in shape.members.items():
            if name in value:
                _check(member, value[name], member_path(path, name), problems)
        return
    for text in _violations(shape, value):
        problems.append(f"Value '{render(value)}' at '{path}' failed to satisfy constraint: {text}")
    if kind == "list":
        for i, item in enumerate(value, 1):
            _check(shape.member, item, f"{path}.{i}.member", problems)
    elif kind == "map":
        for label, sub, items in (
            ("Map keys", shape.key, value.keys()),
            ("Map value", shape.value, value.values()),
        ):
            texts = sorted({t for item in items for t in _violations(sub, item)})
            if texts:
                problems.append(
                    f"Value '{render(value)}' at '{path}' failed to satisfy constraint"
                    f": {label} must satisfy constraint: [{', '.join(texts)}]"
                )


def _violations(shape: Shape, value: Any) -> list[str]:
    meta = shape.metadata
    out = []
    if shape.type_name in ("string", "blob", "list", "map"):
        size = len(value)
        if "max" in meta and size > meta["max"]:
            out.append(f"Member must have length less than or equal to {meta['max']}")
        if "min" in meta and size < meta["min"]:
            out.append(f"Member must have length greater than or equal to {meta['min']}")
    elif shape.type_name in ("integer", "long", "float", "double"):
        if "max" in meta and value > meta["max"]:
            out.append(f"Member must have value less than or equal to {meta['max']}")
        if "min" in meta and value < meta["min"]:
            out.append(f"Member must have value greater than or equal to {meta['min']}")
    if shape.type_name == "string":
        if "pattern" in meta and not compile_pattern(meta["pattern"]).fullmatch(value):
            out.append(f"Member must satisfy regular expression pattern: {meta['pattern']}")
        if "enum" in meta and value not in meta["enum"]:
            out.append(f"Member must satisfy enum value set: [{', '.join(meta['enum'])}]")
    return out

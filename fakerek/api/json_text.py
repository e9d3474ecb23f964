"""Decoding JSON text that must stay text: what requests and manifest lines are parsed with.

Python's `json` decodes a lone surrogate escape such as `"\\udc80"` to a str that no UTF-8
response, file or database can hold; such a document is refused here, where it is read, instead
of failing later where it is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def parse_json(
    text: str | bytes,
    parse_constant: Callable[[str], Any],
    object_hook: Callable[[dict[str, Any]], Any] | None = None,
) -> Any:
    """`json.loads`, refusing (ValueError) a string that holds a lone surrogate escape such as
    `"\\udc80"`: Python decodes it to a str that no UTF-8 response, file or database can hold."""
    value = json.loads(text, parse_constant=parse_constant, object_hook=object_hook)
    if not _is_text(value):
        raise ValueError("a string holds a lone surrogate escape (\\ud800-\\udfff)")
    return value


def _is_text(value: Any) -> bool:
    """Every string (member names included) of a decoded JSON value is Unicode text."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str) and not item.isascii():
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
    return True

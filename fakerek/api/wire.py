"""The Python form of wire values: a request's parameters once `validate.parse_input` has read
them, and an operation's output before `serialize` writes it.

Their shapes are botocore's model's, checked against it at the edge (validation on the way in,
serialisation on the way out), so in between they are plain JSON-like objects.
"""

from __future__ import annotations

from typing import Any, TypeAlias

# A structure of the model: member names to values (nested structures, lists, maps, strings,
# numbers, booleans, timestamps as epoch seconds, blobs as bytes).
JsonObject: TypeAlias = dict[str, Any]

__all__ = ["JsonObject"]

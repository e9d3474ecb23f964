"""ONNX model bytes written without the `onnx` package: the subset of onnx.proto our graphs use.

Importing `onnx` costs about 0.6 s per process (its `ml_dtypes` extension loads slowly), paid by
a user's first training and by the first detection after a restart; writing the few messages we
need is a page of protobuf encoding. Field numbers are onnx.proto's; repeated scalars are written
unpacked, as proto2 does. The tests parse what this writes with `onnx` and run its checker.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# TensorProto.DataType
FLOAT, UINT8, INT8, INT32, INT64 = 1, 2, 3, 6, 7
_DATA_TYPES = {
    np.dtype(np.float32): FLOAT,
    np.dtype(np.uint8): UINT8,
    np.dtype(np.int8): INT8,
    np.dtype(np.int32): INT32,
    np.dtype(np.int64): INT64,
}
# AttributeProto.AttributeType
_ATTR_FLOAT, _ATTR_INT, _ATTR_STRING, _ATTR_TENSOR, _ATTR_FLOATS, _ATTR_INTS = 1, 2, 3, 4, 6, 7
Dim = int | str | None  # a size, a symbolic name, or unknown
AttributeValue = int | float | str | Sequence[int] | Sequence[float] | np.ndarray


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64s take ten bytes, as protobuf writes them
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _int(number: int, value: int) -> bytes:
    return _key(number, 0) + _varint(value)


def _float(number: int, value: float) -> bytes:
    return _key(number, 5) + struct.pack("<f", value)


def _bytes(number: int, value: bytes | str) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    return _key(number, 2) + _varint(len(raw)) + raw


def tensor(name: str, array: np.ndarray | np.generic | float) -> bytes:
    """A TensorProto holding `array` as little-endian raw data."""
    value = np.asarray(array)
    dtype = value.dtype.newbyteorder("<")
    out = b"".join(_int(1, d) for d in value.shape)
    out += _int(2, _DATA_TYPES[value.dtype]) + _bytes(8, name)
    return out + _bytes(9, np.ascontiguousarray(value, dtype).tobytes())


def value_info(name: str, elem_type: int, shape: Sequence[Dim] | None) -> bytes:
    """A ValueInfoProto: a tensor of `elem_type`, of `shape` (None: shape unknown)."""
    tensor_type = _int(1, elem_type)
    if shape is not None:
        dims = b""
        for dim in shape:
            if isinstance(dim, int):
                dims += _bytes(1, _int(1, dim))
            elif isinstance(dim, str):
                dims += _bytes(1, _bytes(2, dim))
            else:
                dims += _bytes(1, b"")
        tensor_type += _bytes(2, dims)
    return _bytes(1, name) + _bytes(2, _bytes(1, tensor_type))


def _attribute(name: str, value: AttributeValue) -> bytes:
    out = _bytes(1, name)
    if isinstance(value, bool | int | np.integer):
        return out + _int(3, int(value)) + _int(20, _ATTR_INT)
    if isinstance(value, float | np.floating):
        return out + _float(2, float(value)) + _int(20, _ATTR_FLOAT)
    if isinstance(value, str):
        return out + _bytes(4, value) + _int(20, _ATTR_STRING)
    if isinstance(value, np.ndarray):
        return out + _bytes(5, tensor("value", value)) + _int(20, _ATTR_TENSOR)
    items = list(value)
    if all(isinstance(v, int | np.integer) for v in items):
        return out + b"".join(_int(8, int(v)) for v in items) + _int(20, _ATTR_INTS)
    return out + b"".join(_float(7, float(v)) for v in items) + _int(20, _ATTR_FLOATS)


@dataclass
class Node:
    op_type: str
    inputs: list[str]
    outputs: list[str]
    name: str = ""
    attributes: dict[str, AttributeValue] = field(default_factory=dict)

    def encode(self) -> bytes:
        out = b"".join(_bytes(1, name) for name in self.inputs)
        out += b"".join(_bytes(2, name) for name in self.outputs)
        if self.name:
            out += _bytes(3, self.name)
        out += _bytes(4, self.op_type)
        return out + b"".join(
            _bytes(5, _attribute(key, value)) for key, value in sorted(self.attributes.items())
        )


def model(
    nodes: Sequence[Node],
    initializers: Sequence[tuple[str, np.ndarray]],
    inputs: Sequence[bytes],
    outputs: Sequence[bytes],
    *,
    opset: int,
    ir_version: int,
    graph_name: str = "fakerek",
    metadata: dict[str, str] | None = None,
) -> bytes:
    """A serialised ModelProto (`inputs`, `outputs`: `value_info` results)."""
    graph = b"".join(_bytes(1, node.encode()) for node in nodes)
    graph += _bytes(2, graph_name)
    graph += b"".join(_bytes(5, tensor(name, array)) for name, array in initializers)
    graph += b"".join(_bytes(11, info) for info in inputs)
    graph += b"".join(_bytes(12, info) for info in outputs)
    out = _int(1, ir_version) + _bytes(2, "fakerek") + _bytes(7, graph)
    out += _bytes(8, _bytes(1, "") + _int(2, opset))
    for key, value in sorted((metadata or {}).items()):
        out += _bytes(14, _bytes(1, key) + _bytes(2, value))
    return out

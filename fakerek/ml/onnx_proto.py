"""ONNX model bytes written and read without the `onnx` package: the subset of onnx.proto our
graphs use.

Importing `onnx` costs about 0.6 s per process (its `ml_dtypes` extension loads slowly) and 30 MB
of every install; writing the few messages we need is a page of protobuf encoding, and reading
back a model's initializers (the heads of models saved before `head.npz`) another. Field numbers
are onnx.proto's; repeated scalars are written unpacked, as proto2 does, and read packed or not.
The tests parse what this writes with `onnx`, run its checker, and read what `onnx` writes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

# TensorProto.DataType
FLOAT, UINT8, INT8, INT32, INT64 = 1, 2, 3, 6, 7
_DATA_TYPES: dict[np.dtype, int] = {
    np.dtype(np.float32): FLOAT,
    np.dtype(np.uint8): UINT8,
    np.dtype(np.int8): INT8,
    np.dtype(np.int32): INT32,
    np.dtype(np.int64): INT64,
}
_DTYPES = {number: dtype.newbyteorder("<") for dtype, number in _DATA_TYPES.items()}
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


# -- reading ---------------------------------------------------------------------------------------


class ProtoError(ValueError):
    """The bytes are not the protobuf message expected (truncated, or another kind of file)."""


def _read_varint(data: bytes, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise ProtoError("a number runs past the end of the message")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7


def _fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of each field of a message: an int for a varint, the
    bytes of the rest."""
    position = 0
    while position < len(data):
        key, position = _read_varint(data, position)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, position = _read_varint(data, position)
        elif wire in (1, 2, 5):
            if wire == 2:
                size, position = _read_varint(data, position)
            else:
                size = 8 if wire == 1 else 4
            if position + size > len(data):
                raise ProtoError(f"field {number} runs past the end of the message")
            value, position = data[position : position + size], position + size
        else:
            raise ProtoError(f"field {number} has wire type {wire}, which ONNX does not use")
        yield number, wire, value


def _int64s(wire: int, value: int | bytes) -> list[int]:
    """A repeated int64 field's values in one occurrence, packed (bytes) or not (an int)."""
    if isinstance(value, int):
        found = [value]
    elif wire == 2:
        found, position = [], 0
        while position < len(value):
            number, position = _read_varint(value, position)
            found.append(number)
    else:
        raise ProtoError("an integer field holds a fixed-size value")
    return [n - (1 << 64) if n >= 1 << 63 else n for n in found]


def read_tensor(data: bytes) -> tuple[str, np.ndarray]:
    """A TensorProto's name and values, stored as raw data or (for floats) as float_data."""
    dims: list[int] = []
    data_type, name, raw, floats = 0, "", None, bytearray()
    for number, wire, value in _fields(data):
        if number == 1:
            dims += _int64s(wire, value)
        elif number == 2 and isinstance(value, int):
            data_type = value
        elif number == 4 and isinstance(value, bytes):  # float_data: packed, or one float
            floats += value
        elif number == 8 and isinstance(value, bytes):
            name = value.decode("utf-8", "replace")
        elif number == 9 and isinstance(value, bytes):
            raw = value
        elif number == 14 and value == 1:  # data_location EXTERNAL: values in another file
            raise ProtoError(f"tensor {name!r}: values stored outside the model file")
    dtype = _DTYPES.get(data_type)
    if dtype is None:
        raise ProtoError(f"tensor {name!r}: data type {data_type} is not one fakerek writes")
    if raw is None:
        if data_type != FLOAT:
            raise ProtoError(f"tensor {name!r}: no raw data")
        raw = bytes(floats)
    if any(d < 0 for d in dims) or len(raw) != dtype.itemsize * int(np.prod(dims)):
        raise ProtoError(f"tensor {name!r}: {len(raw)} bytes do not fill its shape {dims}")
    return name, np.frombuffer(raw, dtype).reshape(dims).astype(dtype.newbyteorder("="))


def initializers(model_bytes: bytes) -> dict[str, np.ndarray]:
    """The constant tensors of a serialised ModelProto's graph, by name."""
    tensors: dict[str, np.ndarray] = {}
    for number, _, graph in _fields(model_bytes):
        if number == 7 and isinstance(graph, bytes):  # ModelProto.graph
            for field_number, _, value in _fields(graph):
                if field_number == 5 and isinstance(value, bytes):  # GraphProto.initializer
                    name, array = read_tensor(value)
                    tensors[name] = array
    return tensors

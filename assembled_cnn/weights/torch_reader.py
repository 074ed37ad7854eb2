"""Reads PyTorch weight files with numpy alone, never running code from the file.

Three formats:
- zip (`torch.save` default since 1.6): `<name>/data.pkl` plus one raw file per storage under
  `<name>/data/<key>`;
- legacy (non-zip): magic number, protocol version and system-info pickles, the object pickle,
  a pickle of the storage keys, then per key an int64 element count and the raw bytes;
- `.safetensors`: an 8-byte little-endian header length, a JSON header, the raw bytes.

A `.pth` is a pickle, and unpickling can call any importable function. `RestrictedUnpickler`
resolves only the names needed to rebuild tensors (`torch._utils._rebuild_tensor_v2`,
`_rebuild_parameter`, the `torch.*Storage` types, `collections.OrderedDict`, `_codecs.encode`)
to harmless stand-ins written here, and refuses every other global with `UnsafeCheckpointError`.
"""

from __future__ import annotations

import collections
import json
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assembled_cnn.errors import UserError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
SAFETENSORS_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": "bfloat16", "I64": np.int64,
    "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_,
}


class TorchCheckpointError(UserError):
    """The file is not a readable PyTorch/safetensors weight file; the message says why."""


class UnsafeCheckpointError(TorchCheckpointError):
    """The pickle asks for something other than tensors (it could run code); nothing was run."""


@dataclass(frozen=True)
class StorageType:
    name: str

    @property
    def dtype(self):
        return STORAGE_DTYPES[self.name]


@dataclass
class Storage:
    """One flat buffer; `data` is filled in once the raw bytes are read."""
    key: str
    dtype: object
    data: np.ndarray | None = None


@dataclass
class TensorRef:
    """A tensor as `_rebuild_tensor_v2` describes it, resolved to numpy after the bytes are read."""
    storage: Storage
    offset: int
    size: tuple
    stride: tuple

    def to_numpy(self) -> np.ndarray:
        flat = self.storage.data
        if flat is None:
            raise TorchCheckpointError(f"storage {self.storage.key!r} has no data in the file")
        if not self.size:
            return flat[self.offset].copy()
        end = self.offset + 1 + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if min(self.size) > 0 and end > flat.size:
            raise TorchCheckpointError(f"tensor of size {self.size} runs past storage {self.storage.key!r}")
        base = flat[self.offset:]
        strides = tuple(s * flat.itemsize for s in self.stride)
        return np.lib.stride_tricks.as_strided(base, self.size, strides, writeable=False).copy()


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *unused):
    if not isinstance(storage, Storage):
        raise UnsafeCheckpointError("_rebuild_tensor_v2 called without a storage")
    return TensorRef(storage, int(storage_offset), tuple(int(n) for n in size), tuple(int(s) for s in stride))


def _rebuild_parameter(data, requires_grad, backward_hooks, *unused):
    return data


def _codecs_encode(text, encoding="utf-8"):
    if not isinstance(text, str):
        raise UnsafeCheckpointError("_codecs.encode called on a non-string")
    return text.encode(encoding)


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("_codecs", "encode"): _codecs_encode,
    **{("torch", name): StorageType(name) for name in STORAGE_DTYPES},
}


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickles tensors only: every global outside `_ALLOWED` is refused before it is looked up."""

    def __init__(self, file, storages: dict[str, Storage], storage_reader=None):
        super().__init__(file)
        self._storages = storages
        self._read = storage_reader

    def find_class(self, module, name):
        allowed = _ALLOWED.get((module, name))
        if allowed is None:
            raise UnsafeCheckpointError(
                f"refusing to load: the pickle references {module}.{name}, which is not a tensor type "
                "(only tensors, storages and OrderedDict are allowed; nothing from the file was run)")
        return allowed

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], StorageType)):
            raise UnsafeCheckpointError(f"refusing to load: unsupported persistent id {str(pid)[:80]}")
        storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])
        if len(pid) > 5 and pid[5] is not None:
            raise TorchCheckpointError("storage views (torch < 0.4 files) are not supported")
        if key not in self._storages:
            storage = Storage(key, storage_type.dtype)
            if self._read is not None:
                storage.data = self._read(key, storage.dtype, numel)
            self._storages[key] = storage
        return self._storages[key]


def _frombuffer(raw: bytes, dtype, count: int | None = None) -> np.ndarray:
    if isinstance(dtype, str):  # bfloat16: the upper half of a float32
        halves = np.frombuffer(raw, "<u2", count=-1 if count is None else count)
        return (halves.astype(np.uint32) << 16).view(np.float32)
    array = np.frombuffer(raw, np.dtype(dtype).newbyteorder("<"), count=-1 if count is None else count)
    return array.astype(np.dtype(dtype))


def _itemsize(dtype) -> int:
    return 2 if isinstance(dtype, str) else np.dtype(dtype).itemsize


def _resolve(obj):
    """Replace every TensorRef in nested dicts/lists/tuples by its numpy array."""
    if isinstance(obj, TensorRef):
        return obj.to_numpy()
    if isinstance(obj, dict):
        return type(obj)((k, _resolve(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve(v) for v in obj)
    return obj


def _load_zip(path: Path):
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise TorchCheckpointError(f"{path}: a zip file without exactly one data.pkl (found {len(pickles)})")
        prefix = pickles[0][: -len("data.pkl")]

        def read(key, dtype, numel):
            member = f"{prefix}data/{key}"
            if member not in names:
                raise TorchCheckpointError(f"{path}: storage {key!r} missing ({member})")
            return _frombuffer(archive.read(member), dtype, numel)

        with archive.open(pickles[0]) as handle:
            return _resolve(RestrictedUnpickler(handle, {}, read).load())


def _load_legacy(path: Path):
    storages: dict[str, Storage] = {}
    with open(path, "rb") as handle:
        header = [RestrictedUnpickler(handle, storages).load() for _ in range(3)]
        if header[0] != LEGACY_MAGIC:
            raise TorchCheckpointError(f"{path}: not a PyTorch file (bad magic number)")
        if isinstance(header[2], dict) and not header[2].get("little_endian", True):
            raise TorchCheckpointError(f"{path}: big-endian files are not supported")
        result = RestrictedUnpickler(handle, storages).load()
        keys = RestrictedUnpickler(handle, storages).load()
        for key in keys:
            storage = storages.get(str(key))
            if storage is None:
                raise TorchCheckpointError(f"{path}: raw data for unknown storage {key!r}")
            (numel,) = struct.unpack("<q", handle.read(8))
            raw = handle.read(numel * _itemsize(storage.dtype))
            if len(raw) != numel * _itemsize(storage.dtype):
                raise TorchCheckpointError(f"{path}: file ends inside storage {key!r}")
            storage.data = _frombuffer(raw, storage.dtype)
    return _resolve(result)


def load_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    raw = Path(path).read_bytes()
    if len(raw) < 8:
        raise TorchCheckpointError(f"{path}: too short for a safetensors file")
    (length,) = struct.unpack("<Q", raw[:8])
    try:
        header = json.loads(raw[8:8 + length])
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise TorchCheckpointError(f"{path}: bad safetensors header ({err})") from err
    body = raw[8 + length:]
    tensors = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        dtype = SAFETENSORS_DTYPES.get(spec.get("dtype"))
        begin, end = spec["data_offsets"]
        if dtype is None or not 0 <= begin <= end <= len(body):
            raise TorchCheckpointError(f"{path}: tensor {name!r} has dtype {spec.get('dtype')!r} "
                                       f"or offsets {spec['data_offsets']} this reader cannot use")
        tensors[name] = _frombuffer(body[begin:end], dtype).reshape(spec["shape"])
    return tensors


def load_torch_file(path: str | Path):
    """The object saved in a `.pth`/`.pth.tar`/`.bin`/`.safetensors` file, tensors as numpy arrays."""
    path = Path(path)
    if not path.is_file():
        raise TorchCheckpointError(f"{path}: no such file")
    if path.suffix == ".safetensors":
        return load_safetensors(path)
    try:
        if zipfile.is_zipfile(path):
            return _load_zip(path)
        return _load_legacy(path)
    except (pickle.UnpicklingError, EOFError, struct.error, KeyError, TypeError, ValueError) as err:
        if isinstance(err, TorchCheckpointError):
            raise
        raise TorchCheckpointError(f"{path}: not a readable PyTorch file ({type(err).__name__}: {err})") from err

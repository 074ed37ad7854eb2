"""Writes PyTorch checkpoint files (legacy and zip) and safetensors with numpy alone, for tests.

The pickles reference `torch._utils._rebuild_tensor_v2` and `torch.FloatStorage` exactly as
`torch.save` does; pickle needs those names importable while writing, so a stand-in `torch`
module is put into `sys.modules` for the duration of one write and removed afterwards.
"""

from __future__ import annotations

import contextlib
import io
import json
import pickle
import struct
import sys
import types
import zipfile
from collections import OrderedDict

import numpy as np

STORAGE_NAMES = {np.dtype(np.float32): "FloatStorage", np.dtype(np.float64): "DoubleStorage",
                 np.dtype(np.int64): "LongStorage", np.dtype(np.float16): "HalfStorage"}


class _Storage:
    def __init__(self, name):
        self.name = name


class _Tensor:
    """Pickles like a torch tensor: `_rebuild_tensor_v2(storage, offset, size, stride, ...)`."""

    def __init__(self, key, array, rebuild):
        self.key, self.array, self.rebuild = key, array, rebuild

    def __reduce__(self):
        strides = tuple(s // self.array.itemsize for s in self.array.strides) if self.array.ndim else ()
        return self.rebuild, (_StorageRef(self), 0, self.array.shape, strides, False, OrderedDict())


class _StorageRef:
    """Stands for the tensor's storage; the pickler writes it as a persistent id."""

    def __init__(self, tensor):
        self.key, self.array = tensor.key, tensor.array


@contextlib.contextmanager
def _fake_torch():
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")
    saved = {k: sys.modules.get(k) for k in ("torch", "torch._utils")}

    def _rebuild_tensor_v2(*args):
        raise AssertionError("never called while writing")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    for dtype, name in STORAGE_NAMES.items():
        cls = type(name, (_Storage,), {"__module__": "torch"})
        setattr(torch, name, cls)
    sys.modules.update({"torch": torch, "torch._utils": utils})
    try:
        yield torch, _rebuild_tensor_v2
    finally:
        for key, module in saved.items():
            if module is None:
                sys.modules.pop(key, None)
            else:
                sys.modules[key] = module


def _dump(obj, handle, legacy: bool):
    """Pickle `obj` with numpy arrays as tensors; returns {key: contiguous array} of the storages."""
    storages: dict[str, np.ndarray] = {}
    with _fake_torch() as (torch, rebuild):
        def wrap(value):
            if isinstance(value, np.ndarray):
                key = str(len(storages))
                storages[key] = np.array(value, order="C")
                return _Tensor(key, storages[key], rebuild)
            if isinstance(value, dict):
                return type(value)((k, wrap(v)) for k, v in value.items())
            return value

        class Pickler(pickle.Pickler):
            def persistent_id(self, o):
                if isinstance(o, _StorageRef):
                    storage_type = getattr(torch, STORAGE_NAMES[o.array.dtype])
                    pid = ("storage", storage_type, o.key, "cpu", o.array.size)
                    return pid + (None,) if legacy else pid
                return None

        Pickler(handle, protocol=2).dump(wrap(obj))
    return storages


def write_legacy(path, obj) -> None:
    with open(path, "wb") as handle:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
            pickle.dump(header, handle, protocol=2)
        storages = _dump(obj, handle, legacy=True)
        keys = sorted(storages)
        pickle.dump(keys, handle, protocol=2)
        for key in keys:
            handle.write(struct.pack("<q", storages[key].size))
            handle.write(storages[key].astype(storages[key].dtype.newbyteorder("<")).tobytes())


def write_zip(path, obj, archive_name: str = "archive") -> None:
    buffer = io.BytesIO()
    storages = _dump(obj, buffer, legacy=False)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{archive_name}/data.pkl", buffer.getvalue())
        archive.writestr(f"{archive_name}/byteorder", "little")
        for key, array in storages.items():
            archive.writestr(f"{archive_name}/data/{key}", array.tobytes())
        archive.writestr(f"{archive_name}/version", "3\n")


def write_safetensors(path, tensors: dict[str, np.ndarray]) -> None:
    codes = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.int64): "I64"}
    header, chunks, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, array in tensors.items():
        raw = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": codes[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    encoded = json.dumps(header).encode()
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(encoded)) + encoded + b"".join(chunks))

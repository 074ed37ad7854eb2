"""scripts/results/exp_transfer_models.py at tiny size: Lite0/1/2 fixed-feature cells on real
digits, each network through its own pretrained model_dir; a second run computes nothing; the
section's table and verdict come from the stored JSON only."""

from __future__ import annotations

import json
import os

import pytest

from results_testlib import REPO, SCRIPTS, import_script

TARGET = "sklearn_digits"


def _stamps(root):
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*.json")}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("models")
    env = {**os.environ, "RESULTS_TINY": "1", "TRANSFER_TARGETS": TARGET, "RESULTS_DIR": str(root / "data"),
           "RUNS_DIR": str(root / "runs"), "DATA_ROOT": str(root / "datasets"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    runs = []
    for _ in range(2):
        if runs:
            before = _stamps(root / "data")
        run = subprocess.run([sys.executable, str(SCRIPTS / "exp_transfer_models.py")], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=400)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        runs.append(run)
    return root, runs, before


def test_every_network_size_and_seed_is_a_stored_cell_of_its_own_weights(tiny_run):
    root, runs, _ = tiny_run
    for model in ("efficientnet_lite1", "efficientnet_lite2"):
        for n in (4, 8):
            for seed in (0, 1):
                cell = json.loads((root / "data" / "cd_models" / "cells" / TARGET / f"n{n}" / f"fixed_{model}" /
                                   f"seed{seed}.json").read_text())
                assert cell["model"] == model and 0.0 <= cell["top1"] <= 1.0 and cell["num_test"] > 0
        assert (root / "runs" / "pretrained" / f"{model}_tiny" / "model_config.json").is_file()
        assert (root / "runs" / "transfer" / "features" / f"{TARGET}__{model}_test.npz").is_file()
    lite0 = root / "data" / "cd_transfer" / "cells" / TARGET / "n4" / "fixed" / "seed0.json"
    assert lite0.is_file()  # Lite0's cells are exp_transfer's own


def test_a_second_run_computes_nothing(tiny_run):
    root, runs, before = tiny_run
    results = lambda stamps: {k: v for k, v in stamps.items() if not k.endswith("protocol.json")}  # noqa: E731
    assert results(_stamps(root / "data")) == results(before)
    # 3 networks × 2 sizes × 2 seeds, and each network's C search per size
    assert sum("/cells/" in f"/{k}" for k in before) == 12 and sum(k.endswith("probe.json") for k in before) == 6


def test_section_table_and_verdict_come_from_the_stored_cells(tiny_run, monkeypatch):
    root, _, _ = tiny_run
    exp = import_script("exp_transfer_models")
    section = exp.section(root / "data")
    (verdict,) = section["verdicts"]
    assert verdict["claim"].endswith(f"(Lite2 − Lite0, {TARGET}, 4/class)") and verdict["interval"]["n"] == 2
    assert verdict["verdict"] in ("reproduced", "not reproduced", "inconclusive")
    lite2 = [json.loads((root / "data" / "cd_models" / "cells" / TARGET / "n8" / "fixed_efficientnet_lite2" /
                         f"seed{s}.json").read_text())["top1"] for s in (0, 1)]
    row = next(line for line in section["markdown"].splitlines() if line.startswith(f"| {TARGET} | 8 |"))
    assert f"{100 * sum(lite2) / 2:.2f}" in row and row.rstrip(" |").split("|")[-1].strip() in ("yes", "no")


def test_each_network_gets_its_own_imagenet_weights(tmp_path, monkeypatch):
    from assembled_cnn.tools import import_weights

    exp_transfer = import_script("exp_transfer")
    monkeypatch.setattr(exp_transfer.common, "RUNS_DIR", tmp_path)
    monkeypatch.setattr(exp_transfer, "TINY", False)
    sources = []

    def fake_import(argv):
        sources.append(argv[argv.index("--source") + 1])
        folder = argv[argv.index("--model_dir") + 1]
        os.makedirs(folder)
        open(os.path.join(folder, "model_config.json"), "w").write("{}")
        return 0

    monkeypatch.setattr(import_weights, "main", fake_import)
    dirs = [exp_transfer.pretrained_dir(m) for m in ("efficientnet_lite0", "efficientnet_lite2", "efficientnet_lite2")]
    assert sources == ["efficientnet_lite0", "efficientnet_lite2"]  # written once each
    assert dirs[1] == dirs[2] != dirs[0] and dirs[1].endswith("efficientnet_lite2")

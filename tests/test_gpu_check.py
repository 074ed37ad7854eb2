"""benchmarks/gpu_check.sh --tiny: every part runs on the CPU and the table and JSON come out sane."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_check")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3", "OUT": str(out)}
    done = subprocess.run([str(REPO / "benchmarks" / "gpu_check.sh"), "--tiny"], capture_output=True, text=True,
                          env=env, timeout=900, cwd=REPO)
    return done, out


def positive(value) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value > 0


@pytest.mark.slow
def test_tiny_mode_runs_every_part_and_writes_json_and_table(tiny_run):
    done, out = tiny_run
    log = (out / "gpu_check.log").read_text() if (out / "gpu_check.log").exists() else ""
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:] + log[-3000:]
    results = json.loads((out / "gpu_check.json").read_text())
    assert results["tiny"] and results["machine"]["gpus"] == []
    assert {results[p]["status"] for p in ("tests", "models", "input", "corruptions", "demo")} == {"ok"}
    assert results["tests"]["tests"] and all(t["outcome"] == "passed" for t in results["tests"]["tests"])
    models = results["models"]
    assert models["policy"] in ("fp16", "bf16")
    assert {(r["model"], r["conv_paths"]) for r in models["rows"]} == {
        ("keras_resnet50", "plain"), ("resnet50", "plain"), ("resnet50", "tuned")}
    assert all(positive(r[k]) for r in models["rows"] for k in ("train_img_s", "infer_img_s", "train_vs_keras"))
    assert positive(results["input"]["img_s"])
    corruptions = results["corruptions"]
    assert positive(corruptions["ours_img_s"]) and positive(corruptions["imagecorruptions_img_s"])
    assert "CPU" in corruptions["device"]
    demo = results["demo"]
    assert 0.0 <= demo["top1"] <= 1.0 and positive(demo["wall_s"]) and demo["eval_examples"] == 64
    assert results["total_s"] < 600
    table = (out / "gpu_check.md").read_text()
    for expected in ("(a) gpu-marked tests", "| resnet50 | tuned |", "(c) input / resnet50 train img/s",
                     "(d) corruptions", "(e) demo", "no GPU (CPU only)"):
        assert expected in table and expected in done.stdout, expected
    assert sorted(p.name for p in out.iterdir()) == ["gpu_check.json", "gpu_check.log", "gpu_check.md"]


def test_without_tensorflow_it_says_so_in_one_line_and_names_the_torch_path(tmp_path):
    blocker = tmp_path / "no_tf"
    blocker.mkdir()
    # a `tensorflow` that cannot be found: a meta-path finder that refuses it
    (blocker / "sitecustomize.py").write_text(
        "import sys\nclass _NoTF:\n    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'tensorflow' or name.startswith('tensorflow.'):\n"
        "            raise ModuleNotFoundError(name)\n        return None\nsys.meta_path.insert(0, _NoTF())\n")
    env = {**os.environ, "PYTHONPATH": str(blocker)}
    done = subprocess.run([sys.executable, "benchmarks/gpu_check.py", "--out", str(tmp_path / "out")],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs TensorFlow" in lines[0] and "scripts/results/gpu/gpu_results.sh" in lines[0]
    assert not (tmp_path / "out").exists()

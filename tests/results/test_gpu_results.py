"""The GPU runs of (a) and (c): their plan, the choice of each regime's LR before its finals,
the collection of what a device session brought back, and the page section built from it.
(The runs themselves need torch; tests/nets/test_backends.py runs the networks under it.)"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from results_testlib import SCRIPTS, import_script

GPU = SCRIPTS / "gpu"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"gpu_{name}", GPU / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(GPU))
    spec.loader.exec_module(module)
    return module


runner = load("run_gpu_results")
collect = load("collect_device_run")


def test_plan_runs_both_arms_of_a_at_full_width_with_the_cpu_searched_lr_and_three_seeds():
    jobs, c_recipe = runner.plan(tiny=False)
    assert jobs[0]["kind"] == "corrupt" and jobs[0]["count"] == 1000
    a = [j for j in jobs if j["kind"] == "assembled"]
    assert sorted((j["arm"], j["seed"]) for j in a) == sorted((arm, s) for arm in ("vanilla", "assembled") for s in (0, 1, 2))
    assert {(j["width"], j["epochs"], j["batch_size"], j["lr"], j["image_size"]) for j in a} == {(64, 8, 128, 0.2, 56)}
    search = [j for j in jobs if j.get("phase") == "search"]
    assert sorted((j["kind"], j["lr"]) for j in search) == sorted(
        (regime, lr) for regime, grid in runner.LR_GRID.items() for lr in grid)
    assert c_recipe["per_class"] == 1000 and c_recipe["image_size"] == 224
    assert len({j["name"] for j in jobs}) == len(jobs)


def search_result(regime: str, lr: float, top1: float) -> dict:
    return {"kind": regime, "lr": lr, "top1": top1, "phase": "search"}


def test_finals_wait_for_the_whole_grid_take_the_best_validation_lr_and_are_queued_once():
    _, c_recipe = runner.plan(tiny=False)
    results = {"_finals_queued": [], "_failed": {}, "_chosen": {}}
    grid = runner.LR_GRID["finetune"]
    results.update({f"c_finetune_search_lr{lr}": search_result("finetune", lr, 0.8) for lr in grid[:2]})
    assert runner.finals(results, c_recipe) == []          # one search point still running
    results[f"c_finetune_search_lr{grid[2]}"] = search_result("finetune", grid[2], 0.9)
    jobs = runner.finals(results, c_recipe)
    assert [(j["name"], j["lr"], j["phase"]) for j in jobs] == [
        (f"c_finetune_final_s{s}", grid[2], "final") for s in (0, 1, 2)]
    assert results["_chosen"]["finetune"] == grid[2]
    assert runner.finals(results, c_recipe) == []          # never queued twice
    # ties go to the smaller LR
    tied = {"_finals_queued": [], "_failed": {}, "_chosen": {},
            **{f"c_random_search_lr{lr}": search_result("random", lr, 0.5) for lr in runner.LR_GRID["random"]}}
    assert {j["lr"] for j in runner.finals(tied, c_recipe)} == {min(runner.LR_GRID["random"])}


def test_a_failed_search_point_leaves_the_choice_to_the_others_and_all_failed_is_recorded():
    _, c_recipe = runner.plan(tiny=False)
    low, mid, high = runner.LR_GRID["random"]
    results = {"_finals_queued": [], "_chosen": {}, "_failed": {f"c_random_search_lr{high}": "exit 1: boom"},
               f"c_random_search_lr{low}": search_result("random", low, 0.6),
               f"c_random_search_lr{mid}": search_result("random", mid, 0.7)}
    assert {j["lr"] for j in runner.finals(results, c_recipe)} == {mid}
    failed = {"_finals_queued": [], "_chosen": {},
              "_failed": {f"c_finetune_search_lr{lr}": "exit 1" for lr in runner.LR_GRID["finetune"]}}
    assert runner.finals(failed, c_recipe) == []
    assert failed["_chosen"]["finetune"] == "none: every search run failed"


def device_folder(root: Path) -> Path:
    """What a device session brings back: results of finished jobs, and the jobs' logs."""
    root.mkdir(parents=True)
    results = {"_machine": {"gpu": "NVIDIA H200", "cpu_cores": 16, "python": "3.12.3", "torch": "2.11",
                            "keras": "3.15.1"}, "_wall_s": 450.2, "_tiny": False,
               "_scheduled": ["corrupt", "a_vanilla_s0", "c_fixed"], "_finals_queued": [],
               "_failed": {"a_vanilla_s0": "stopped at the 450 s budget", "c_fixed": "stopped at the 450 s budget"},
               "_not_started": ["c_random_search_lr0.1"], "corrupt": {"seconds": 43.0}}
    (root / "gpu_results.json").write_text(json.dumps(results))
    (root / "console.txt").write_text("NVIDIA H200, 143771 MiB, 580.159.04\n[gpu 0 s] start corrupt\n")
    (root / "gpu_jobs.log").write_text("\n".join([
        "===== a_vanilla_s0", "some warning line",
        "[a_vanilla_s0 22:15:40] epoch 1: loss 1.498, 42.1 s", "[a_vanilla_s0 22:16:45] epoch 2: loss 1.349, 64.4 s",
        "===== c_fixed",
        "[c_fixed 22:15:37] 10/class seed 0: 0.7000 (C 0.01)", "[c_fixed 22:15:38] 10/class seed 1: 0.7200 (C 1e-05)",
        "[c_fixed 22:15:38] 10/class seed 2: 0.7400 (C 0.0001)", "[c_fixed 22:18:44] 1000/class seed 0: 0.8860 (C 0.01)"]))
    return root


def test_collect_keeps_what_stopped_jobs_logged_and_the_section_reports_it_without_false_intervals(tmp_path):
    full = device_folder(tmp_path / "device" / "1")
    probe = tmp_path / "device" / "2"
    probe.mkdir()
    (probe / "probe.json").write_text(json.dumps({"width": 64, "image_size": 56, "batch_sizes": [128], "warmup": 5,
                                                  "steps": 20, "ms_per_step": {"vanilla_b128": 68.0, "assembled_b128": 198.0}}))
    payload = collect.collect("h200_test", full, None, probe)
    run = payload["full"]
    assert payload["nvidia_smi"] == "NVIDIA H200, 143771 MiB, 580.159.04"
    assert run["failed"] == ["a_vanilla_s0", "c_fixed"] and run["not_started"] == ["c_random_search_lr0.1"]
    assert [e["seconds"] for e in run["epochs"]["a_vanilla_s0"]] == [42.1, 64.4]
    assert [(c["per_class"], c["seed"], c["test_top1"]) for c in run["fixed_cells"]] == [
        (10, 0, 0.70), (10, 1, 0.72), (10, 2, 0.74), (1000, 0, 0.886)]

    section = import_script("section_gpu")
    text = section.run_markdown(payload)
    assert "| 10 | 3 | 72.00 ± 2.00 |" in text                     # three seeds: mean ± sample std
    assert "88.60 (1 of 3 seeds: no interval)" in text             # fewer: the values, no interval
    assert "epochs finished (of 8)" in text and "| vanilla | 1 | 2 | 53 |" in text
    # (68 + 198) ms × 468 steps × 8 epochs × 3 seeds ≈ 50 min
    assert "about 50 min of device time" in text


def test_page_section_says_no_gpu_when_none_was_lent(tmp_path, monkeypatch):
    section = import_script("section_gpu")
    monkeypatch.setattr(section.common, "RESULTS_DIR", tmp_path)
    assert section.section() == "No GPU was lent to the sessions that ran this suite.\n"
    (tmp_path / "gpu").mkdir()
    payload = collect.collect("h200_test", device_folder(tmp_path / "dev"), None, None)
    (tmp_path / "gpu" / "h200_test.json").write_text(json.dumps(payload))
    text = section.section()
    assert "**Status: not done.**" in text and "### h200_test: NVIDIA H200, 143771 MiB" in text


@pytest.mark.parametrize("line", ["[c_fixed 22:15:37] 10/class seed x: 0.7 (C 0.01)", "epoch 1: loss 1.0, 2.0 s"])
def test_lines_that_are_not_results_are_ignored(line):
    assert collect.parse_log([line]) == {"epochs": {}, "fixed_cells": []}


ONE_STEP = """
import os, sys
os.environ["KERAS_BACKEND"] = sys.argv[1]
sys.path.insert(0, sys.argv[5])
import numpy as np
from assembled_cnn.nets import build_model, model_config
from backends import make_trainer
from torch_recipe import Recipe
config = dict(num_classes=10, num_filters=8, zero_gamma=False, use_resnet_d=True, use_sk_block=True,
              anti_alias_type="sconv", anti_alias_filter_size=3, use_dropblock=True, dropblock_block_size=3)
model = build_model(config=model_config("resnet18", **config))
model.load_weights(sys.argv[2])
batch = np.load(sys.argv[3])
recipe = Recipe(epochs=1, batch_size=8, steps_per_epoch=10, base_lr=0.1, warmup_epochs=0, label_smoothing=0.1)
trainer = make_trainer(model, recipe, 10, 0)
x, y = batch["x"], batch["y"]
if sys.argv[1] == "torch":
    import torch
    x, y = torch.as_tensor(x), torch.as_tensor(y)
for _ in range(2):
    loss = trainer.train_step(x, y)
trainer.finish()
model.save_weights(sys.argv[4])
print(float(loss))
"""


def interpreter_with_torch_and_jax():
    import os

    candidate = os.environ.get("ASSEMBLED_CNN_TORCH_PYTHON")
    if importlib.util.find_spec("torch") and importlib.util.find_spec("jax"):
        candidate = sys.executable
    return candidate


@pytest.mark.skipif(interpreter_with_torch_and_jax() is None,
                    reason="no interpreter with torch and jax (set ASSEMBLED_CNN_TORCH_PYTHON)")
def test_compiled_jax_step_and_eager_torch_step_train_the_same_weights(tmp_path):
    """Two independent expressions of the recipe (jax_recipe: one jit program; torch_recipe: eager
    autograd) take the same two SGD steps from the same weights and batch: label smoothing, L2 on
    kernels, Keras-form momentum and BN statistics. (DropBlock and mixup draw random numbers that the
    two backends cannot share, so they are off here; tests/nets/test_backends.py covers DropBlock.)"""
    import os
    import subprocess

    import keras
    import numpy as np

    from assembled_cnn.nets import build_model, model_config

    config = dict(num_classes=10, num_filters=8, zero_gamma=False, use_resnet_d=True, use_sk_block=True,
                  anti_alias_type="sconv", anti_alias_filter_size=3, use_dropblock=True, dropblock_block_size=3)
    keras.utils.set_random_seed(0)
    build_model(config=model_config("resnet18", **config)).save_weights(tmp_path / "start.weights.h5")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "batch.npz", x=rng.normal(0, 50, (8, 32, 32, 3)).astype("float32"), y=rng.integers(0, 10, 8))
    env = {**os.environ, "PYTHONPATH": str(SCRIPTS.parents[1])}
    losses, weights = {}, {}
    for backend in ("jax", "torch"):
        done = subprocess.run([interpreter_with_torch_and_jax(), "-c", ONE_STEP, backend, str(tmp_path / "start.weights.h5"),
                               str(tmp_path / "batch.npz"), str(tmp_path / f"{backend}.weights.h5"), str(GPU)],
                              capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        losses[backend] = float(done.stdout.strip().splitlines()[-1])
        model = build_model(config=model_config("resnet18", **config))
        model.load_weights(tmp_path / f"{backend}.weights.h5")
        weights[backend] = [keras.ops.convert_to_numpy(v) for v in model.weights]
    assert losses["jax"] == pytest.approx(losses["torch"], rel=1e-4)
    start = build_model(config=model_config("resnet18", **config))
    start.load_weights(tmp_path / "start.weights.h5")
    initial = [keras.ops.convert_to_numpy(v) for v in start.weights]
    updates = {b: np.concatenate([(w - s).ravel() for w, s in zip(weights[b], initial)]) for b in weights}
    moved = sum(np.linalg.norm(w - s) > 0 for w, s in zip(weights["torch"], initial))
    assert moved > len(initial) // 2                        # the steps changed the weights and BN statistics
    # all updates together agree to 0.1 % (measured: 5e-6; float32 summation order differs). Keras's torch
    # BN alone (one-pass E[x²] − E[x]²) made it ~1 % on these 0-255-scale inputs; norm.py uses two passes.
    gap = np.linalg.norm(updates["jax"] - updates["torch"]) / np.linalg.norm(updates["torch"])
    assert gap <= 1e-3, gap


def test_section_names_how_c_was_chosen_from_the_runs_own_plan(tmp_path):
    section = import_script("section_gpu")
    payload = collect.collect("h200_test", device_folder(tmp_path / "dev"), None, None)
    assert "C chosen on 20 % of each subset" in section.run_markdown(payload)   # stored before plans were kept
    jobs, _ = runner.plan(tiny=False)
    payload["full"]["plan"] = jobs
    assert "C chosen on the 5,000-image validation split" in section.run_markdown(payload)


def test_a_complete_run_is_rendered_from_its_results_with_paired_intervals_and_marked_done(tmp_path):
    from assembled_cnn.robustness.mce import COMMON_CORRUPTIONS

    section = import_script("section_gpu")
    payload = collect.collect("h200_test", device_folder(tmp_path / "dev"), None, None)
    finished = payload["full"]["finished"]
    for seed in (0, 1, 2):
        for arm, top1, error in (("vanilla", 0.90, 0.5), ("assembled", 0.92 + 0.001 * seed, 0.3)):
            finished[f"a_{arm}_s{seed}"] = {"seed": seed, "test_top1": top1, "subset_clean_error": 0.1,
                                             "corruption_errors": {c: [error] * 5 for c in COMMON_CORRUPTIONS}}
        for regime in ("finetune", "random"):
            finished[f"c_{regime}_final_s{seed}"] = {"seed": seed, "top1": 0.9, "lr": 0.01}
    finished["c_fixed"] = {"cells": []}
    payload["full"]["chosen"] = {"finetune": 0.01, "random": 0.1}
    text = section.run_markdown(payload)
    assert "| assembled − vanilla (paired) | 3 | +2.10 [" in text        # 92.1 − 90.0 points, with its interval
    assert "(a) finished no run" not in text
    assert "| finetune | 0.01 | 3 | 90.00 ± 0.00 |" in text
    assert section.is_complete(payload)
    payload["full"]["finished"]["a_vanilla_s0"]["partial"] = True          # stopped after its test score
    assert not section.is_complete(payload)


def test_section_takes_sizes_from_the_runs_plan_and_reports_a_failed_jax_smoke(tmp_path):
    import shutil

    section = import_script("section_gpu")
    full = device_folder(tmp_path / "dev")
    shutil.copytree(full, full / "tiny_jax")          # device_run.sh keeps the backend whose tiny plan failed
    results = json.loads((full / "tiny_jax" / "gpu_results.json").read_text())
    results["_failed"] = {"a_vanilla_s0": "exit 1: [a_vanilla_s0 10:00:01] Keras backend jax on gpu\nTraceback (most "
                                          "recent call last):\n  File x\njaxlib.XlaRuntimeError: out of memory\n\n"}
    (full / "tiny_jax" / "gpu_results.json").write_text(json.dumps(results))
    payload = collect.collect("h200_test", full, None, None)
    assert list(payload["failed_smokes"]) == ["jax"]
    jobs, _ = runner.plan(tiny=False)
    for job in jobs:
        job.update(width=32, epochs=5) if job["kind"] == "assembled" else None
        job.update(per_class=500) if job["kind"] == "finetune" else None
    payload["full"]["plan"] = jobs
    text = section.run_markdown(payload)
    assert "**Smoke run on jax failed** (450 s; a_vanilla_s0: exit 1: jaxlib.XlaRuntimeError: out of memory)" in text
    assert "the full run used the torch backend" in text
    assert "epochs finished (of 5)" in text and "(c) LR search (500 per class" in text


@pytest.mark.skipif(interpreter_with_torch_and_jax() is None,
                    reason="no interpreter with torch and jax (set ASSEMBLED_CNN_TORCH_PYTHON)")
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_a_job_whose_backend_sees_no_gpu_stops_at_once_with_one_line(tmp_path, backend):
    """gpu_results.sh sets REQUIRE_GPU: a JAX without its CUDA plugin would otherwise train on the CPU."""
    import os
    import subprocess

    spec = {"kind": "corrupt", "name": "corrupt", "count": 2, "image_size": 32, "workers": 1}
    env = {**os.environ, "KERAS_BACKEND": backend, "REQUIRE_GPU": "1", "CUDA_VISIBLE_DEVICES": "",
           "JAX_PLATFORMS": "cpu"}
    done = subprocess.run([interpreter_with_torch_and_jax(), str(GPU / "gpu_jobs.py"), "--spec", json.dumps(spec),
                           "--work", str(tmp_path), "--carry", str(tmp_path)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"corrupt: Keras backend {backend} sees no GPU (cpu); run with the other backend (device_run.sh falls back to torch)")
    assert not (tmp_path / "corrupt.json").exists()


def test_a_session_with_no_full_run_is_collected_with_its_smokes_and_rendered(tmp_path):
    import shutil

    section = import_script("section_gpu")
    out = device_folder(tmp_path / "dev")
    shutil.copytree(out, out / "tiny_jax")
    shutil.copytree(out, out / "tiny")
    (out / "gpu_results.json").unlink()                       # both smokes failed: the full plan never started
    (out / "gpu_jobs.log").unlink()
    payload = collect.collect("h200_test", out, out / "tiny", None)
    assert payload["full"] is None and list(payload["failed_smokes"]) == ["jax"]
    text = section.run_markdown(payload)
    assert "no full run started" in text and "**No full run**" in text and "### h200_test: NVIDIA H200" in text
    assert not section.is_complete(payload)
    assert section.jax_status([payload]) == "that path has not trained on a GPU yet"


def test_the_probe_estimate_is_left_out_when_it_measured_another_network_or_batch(tmp_path):
    section = import_script("section_gpu")
    probe = {"width": 64, "image_size": 56, "batch_sizes": [128, 512], "warmup": 5, "steps": 20,
             "ms_per_step": {"vanilla_b128": 68.0, "vanilla_b512": 70.0, "assembled_b128": 198.0, "assembled_b512": 304.0}}
    a = {"width": 64, "image_size": 56, "epochs": 8, "batch_size": 128}
    assert "about 50 min of device time" in section.probe_markdown(probe, a)
    assert "With 4× the batch the step takes 1.0× (vanilla) and 1.5× (assembled) as long: most" in section.probe_markdown(probe, a)
    assert "min of device time" not in section.probe_markdown(probe, {**a, "width": 32})
    assert "min of device time" not in section.probe_markdown(probe, {**a, "batch_size": 256})

"""(a) assembled vs vanilla at tiny size: runs end to end on real images, resumes without
recomputing, and the report's section and verdict rows come from the stored JSON only."""

from __future__ import annotations

import json

import numpy as np
import pytest

from results_testlib import fake_training, import_script, make_data_root, run_script, tiny_env

from assembled_cnn.robustness.corruptions import get_corruption_names


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("exp_assembled")
    env = tiny_env(tmp_path, make_data_root(tmp_path / "data"))
    first = run_script("exp_assembled.py", env, "--datasets", "fashion_mnist", "--no_ablation")
    return tmp_path, env, first


def test_every_cell_is_stored_with_its_test_score_and_75_corruption_errors(finished):
    tmp_path, _, first = finished
    out = tmp_path / "results" / "data" / "a_assembled"
    for arm in ("vanilla", "assembled"):
        assert len(list((out / "search" / "fashion_mnist" / arm).glob("point*.json"))) == 1  # tiny: 1 point
        for seed in (0, 1):
            result = json.loads((out / "fashion_mnist" / arm / f"seed{seed}.json").read_text())
            assert result["seed"] == seed and 0.0 <= result["test"]["top1"] <= 1.0
            errors = result["robustness"]["errors"]
            assert len(errors) == 15 and all(len(v) == 5 for v in errors.values())
            assert result["robustness"]["mce"] > 0
    assembled = json.loads((out / "fashion_mnist" / "assembled" / "seed0.json").read_text())["settings"]
    assert assembled["data"]["autoaugment_type"] == "good" and assembled["model"]["use_sk_block"]
    assert assembled["data"]["data_dir"].endswith("fashion_mnist") and "dev" not in assembled["data"]["data_dir"]
    assert assembled["data"]["train_size"] == 56 and assembled["data"]["test_size"] == 56  # the demo's budget
    corrupted = np.load(tmp_path / "runs" / "corrupted" / "fashion_mnist_px56" / "fog.npy", mmap_mode="r")
    assert corrupted.shape[0] == 5 and corrupted.shape[2:] == (56, 56, 3)  # corrupted at the models' size
    search = json.loads((out / "search" / "fashion_mnist" / "vanilla" / "point0.json").read_text())
    assert "/dev/" in search["settings"]["data"]["data_dir"]  # chosen on held-out train, not on test
    assert "[a] fashion_mnist assembled seed1" in first.stdout


def test_a_second_run_reads_the_stored_results_and_trains_nothing(finished):
    tmp_path, env, _ = finished
    stored = {p: p.stat().st_mtime_ns for p in (tmp_path / "results").rglob("*.json")}
    second = run_script("exp_assembled.py", env, "--datasets", "fashion_mnist", "--no_ablation")
    assert "train:" not in second.stderr and "eval at step" not in second.stdout + second.stderr
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "results").rglob("*.json")} == stored


def test_section_and_report_are_built_from_the_stored_json(finished, monkeypatch):
    tmp_path, env, _ = finished
    exp = import_script("exp_assembled")
    monkeypatch.setattr(exp.common, "SEEDS", (0, 1))  # the tiny run's seeds
    section = exp.section(tmp_path / "results" / "data")
    fashion = [v for v in section["verdicts"] if "Fashion-MNIST at 8 epochs" in v["claim"]]
    assert len(fashion) == 2 and all(v["verdict"] != "pending" and v["interval"]["n"] == 2 for v in fashion)
    mnist = [v for v in section["verdicts"] if "(a) MNIST" in v["claim"]]
    assert mnist and all(v["verdict"] == "pending" for v in mnist)  # not run: reported, never estimated
    assert "| vanilla | 2 |" in section["markdown"] and "a_ce_per_corruption.png" in section["markdown"]
    run_script("make_report.py", env)
    page = (tmp_path / "results.md").read_text()
    assert "## Verdicts" in page and fashion[0]["effect"] in page and "pending" in page


def test_convergence_check_trains_each_arm_on_validation_under_the_longer_and_larger_budgets(finished, monkeypatch):
    tmp_path, env, _ = finished
    searched = {p: p.stat().st_mtime_ns for p in (tmp_path / "results").rglob("point*.json")}
    run = run_script("exp_assembled.py", env, "--datasets", "fashion_mnist", "--convergence_only")
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "results").rglob("point*.json")} == searched  # LR reused
    out = tmp_path / "results" / "data" / "a_assembled" / "convergence" / "fashion_mnist"
    for arm in ("vanilla", "assembled"):
        for key, size in (("e16_px56", 56),):
            stored = json.loads((out / arm / f"{key}.json").read_text())
            assert stored["arm"] == arm and 0.0 <= stored["validation"]["top1"] <= 1.0
            assert stored["recipe"]["data"]["train_size"] == size and "/dev/" in stored["recipe"]["data"]["data_dir"]
    assert "[a] convergence fashion_mnist assembled 16 epochs, 56 px" in run.stdout
    exp = import_script("exp_assembled")
    monkeypatch.setattr(exp.common, "SEEDS", (0, 1))
    rows = exp._convergence_rows(tmp_path / "results" / "data" / exp.OUT, "fashion_mnist")
    assert [r["arm"] for r in rows] == ["vanilla", "assembled"]
    assert all("pending" not in str(value) for row in rows for value in row.values())
    assert "Does the common budget converge?" in exp.section(tmp_path / "results" / "data")["markdown"]


def test_a_final_at_a_since_changed_lr_is_kept_aside_and_re_run_in_its_own_model_dir(tmp_path, monkeypatch):
    """The grown LR search chose another LR after the finals ran: they are re-measured, never refused."""
    exp, model_dirs = fake_training("exp_assembled", tmp_path, monkeypatch)
    exp.final_cell("mnist", "d", exp.VANILLA, 0, 0.4)
    exp.final_cell("mnist", "d", exp.VANILLA, 0, 0.4)             # stored: nothing trains
    assert exp.final_cell("mnist", "d", exp.VANILLA, 0, 0.8)["test"]["top1"] == 0.8
    assert len(model_dirs) == 2 and model_dirs[0] != model_dirs[1]
    folder = tmp_path / "data" / exp.OUT / "mnist" / "vanilla"
    assert len(list((folder / "superseded").glob("seed0.*.json"))) == 1


def test_a_convergence_run_at_a_since_changed_lr_is_kept_aside_and_re_run(tmp_path, monkeypatch):
    exp = import_script("exp_assembled")
    monkeypatch.setattr(exp.common, "RESULTS_DIR", tmp_path / "data")
    monkeypatch.setattr(exp.common, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.setattr(exp.common, "dev_split", lambda data_dir, dataset: f"{data_dir}/dev")
    trained = []
    monkeypatch.setattr(exp.common, "train", lambda config: trained.append(config.train.base_learning_rate) or {"top1": 0.5})
    exp.convergence("fashion_mnist", "d", {"vanilla": 0.1, "assembled": 0.2})
    exp.convergence("fashion_mnist", "d", {"vanilla": 0.1, "assembled": 0.2})   # stored: nothing trains
    assert sorted(trained) == [0.1, 0.2]
    exp.convergence("fashion_mnist", "d", {"vanilla": 0.1, "assembled": 0.4})   # no SystemExit: re-measured
    assert sorted(trained) == [0.1, 0.2, 0.4]
    folder = tmp_path / "data" / exp.OUT / "convergence" / "fashion_mnist" / "assembled"
    assert json.loads((folder / "e16_px56.json").read_text())["learning_rate"] == 0.4
    assert len(list((folder / "superseded").glob("e16_px56.*.json"))) == 1


def offline_experiment(tmp_path, monkeypatch):
    """exp_assembled writing under tmp_path, with no data, dev split or corrupted sets to build
    (the tests patch `common.train` and `robustness`)."""
    exp = import_script("exp_assembled")
    monkeypatch.setattr(exp.common, "RESULTS_DIR", tmp_path / "data")
    monkeypatch.setattr(exp.common, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.setattr(exp.common, "ensure_dataset", lambda name: "d")
    monkeypatch.setattr(exp.common, "dev_split", lambda data_dir, dataset: f"{data_dir}/dev")
    monkeypatch.setattr(exp, "corrupted_sets", lambda dataset, data_dir: ("clean", "labels", "paths"))
    return exp


def test_long_finals_train_every_arm_and_seed_at_16_epochs_stored_apart_and_resume(tmp_path, monkeypatch):
    exp = offline_experiment(tmp_path, monkeypatch)
    monkeypatch.setattr(exp, "robustness", lambda model_dir, *sets: {
        "mce": 50.0 if "vanilla" in model_dir else 40.0, "relative_mce": 60.0, "mean_corruption_error": 0.3,
        "ce": {name: 50.0 for name in get_corruption_names("common")}})
    finals, searched = [], []

    def train(config):
        if "/dev" in config.data.data_dir:  # the search: LR 0.2 wins for both arms
            searched.append(config.train.train_epochs)
            return {"top1": 0.9 if config.train.base_learning_rate == 0.2 else 0.8}
        finals.append(config)
        return {"top1": 0.90 + 0.01 * ("assembled" in config.run.model_dir) + 0.001 * len(finals)}

    monkeypatch.setattr(exp.common, "train", train)
    exp.main(["--datasets", "fashion_mnist,mnist", "--long_finals"])   # MNIST: not a long-budget dataset
    assert searched == [8.0] * 2 * len(exp.LEARNING_RATES)  # the 8-epoch search chose the LR, once per arm
    assert len(finals) == 6 and all(c.train.train_epochs == 16.0 and c.train.base_learning_rate == 0.2 for c in finals)
    assert all("/e16_px56/fashion_mnist/" in c.run.model_dir for c in finals)
    out = tmp_path / "data" / exp.OUT
    assert sorted(p.relative_to(out).as_posix() for p in out.glob("e16_px56/**/seed*.json")) == [
        f"e16_px56/fashion_mnist/{arm}/seed{seed}.json" for arm in ("assembled", "vanilla") for seed in (0, 1, 2)]
    assert not (out / "fashion_mnist").exists()  # the common budget's finals are not touched
    exp.main(["--datasets", "fashion_mnist", "--long_finals"])
    assert len(finals) == 6  # stored: nothing trains again
    verdicts = {v["claim"]: v for v in exp.section(tmp_path / "data")["verdicts"]}
    long = verdicts["(a) Fashion-MNIST at 16 epochs, 56 px: the assembled network is more accurate (top-1, points)"]
    assert long["verdict"] == "reproduced" and long["interval"]["n"] == 3
    robust = verdicts["(a) Fashion-MNIST at 16 epochs, 56 px: the assembled network is more robust (mCE, lower is better)"]
    assert robust["verdict"] == "reproduced"
    assert verdicts["(a) Fashion-MNIST at 8 epochs, 56 px: the assembled network is more accurate (top-1, points)"][
        "verdict"] == "pending"


def test_ablation_arms_train_at_vanillas_lr_are_scored_on_the_corrupted_sets_and_tabled(tmp_path, monkeypatch,
                                                                                       capsys):
    exp = offline_experiment(tmp_path, monkeypatch)
    scored = []

    def robustness(model_dir, *sets):
        scored.append(model_dir)
        mce = 30.0 if "plus_autoaugment" in model_dir else 50.0
        return {"mce": mce + len(scored) % 3, "relative_mce": 60.0, "mean_corruption_error": 0.3,
                "ce": {name: mce for name in get_corruption_names("common")}}

    monkeypatch.setattr(exp, "robustness", robustness)
    finals = []

    def train(config):
        if "/dev" in config.data.data_dir:  # the search: vanilla prefers 0.1, assembled 0.2
            best = 0.2 if config.data.autoaugment_type == "good" else 0.1
            return {"top1": 0.9 if config.train.base_learning_rate == best else 0.8}
        finals.append(config)
        return {"top1": 0.90 + 0.001 * len(finals)}

    monkeypatch.setattr(exp.common, "train", train)
    exp.main(["--datasets", "fashion_mnist", "--ablation_only", "--ablation_arms", "plus_autoaugment,plus_mixup"])
    ablation = [c for c in finals if "/plus_" in c.run.model_dir]
    assert len(finals) == 12 and len(ablation) == 6 and len(scored) == 12  # every cell has its mCE
    assert all(c.train.base_learning_rate == 0.1 for c in ablation)  # vanilla's LR, no search of their own
    assert all(c.train.train_epochs == 8.0 for c in ablation)  # the common budget
    augmented = [c for c in ablation if "/plus_autoaugment/" in c.run.model_dir]
    assert len(augmented) == 3 and all(c.data.autoaugment_type == "good" and c.data.mixup_type == 0 for c in augmented)
    stored = json.loads((tmp_path / "data" / exp.OUT / "fashion_mnist" / "plus_mixup" / "seed2.json").read_text())
    assert stored["robustness"]["mce"] >= 50.0 and stored["learning_rate"] == 0.1
    rows = {r["arm"]: r for r in exp._ablation_rows(tmp_path / "data")}
    augment = rows["vanilla + AutoAugment (CIFAR policy)"]
    assert augment["seeds"] == 3 and augment["Δ mCE vs vanilla (95 % CI)"].startswith("-")
    assert "(n=3)" in augment["Δ top-1 vs vanilla (points, 95 % CI)"]
    assert rows["vanilla + label smoothing 0.1"]["Δ mCE vs vanilla (95 % CI)"].startswith("pending")
    exp.main(["--datasets", "fashion_mnist", "--ablation_only", "--ablation_arms", "plus_mixup"])
    assert len(finals) == 12  # stored: nothing trains again
    with pytest.raises(SystemExit) as exit_:
        exp.main(["--ablation_only", "--ablation_arms", "plus_mixup,plus_everything"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == ("--ablation_arms: unknown arm(s) plus_everything; choose from "
                                               "plus_network, plus_smoothing, plus_mixup, plus_autoaugment, "
                                               "plus_dropblock")

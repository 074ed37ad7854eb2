"""(e) FixRes at tiny size: stage 1 with random-resized crops at 24 px, tested at 24-40 px, stage 2
and its control, the stage-2 LR chosen on the dev split; the script resumes without recomputing
and its section and verdict rows come from the stored JSON only."""

from __future__ import annotations

import json
import math

import pytest

from results_testlib import load, import_script, make_data_root, run_script, tiny_env

ARGS = ("--seeds", "0,1", "--ft_sizes", "32", "--layers", "all")   # a subset keeps the test short


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("exp_fixres")
    env = tiny_env(tmp_path, make_data_root(tmp_path / "data"))
    first = run_script("exp_fixres.py", env, *ARGS)
    return tmp_path, env, first


def test_stage1_is_tested_at_every_size_and_stage2_cells_are_stored(finished):
    tmp_path, _, first = finished
    out = tmp_path / "results" / "data" / "e_fixres"
    dev = load(out / "dev" / "stage1.json")
    assert "/dev/" in dev["settings"]["data"]["data_dir"] and set(dev["at_size"]) == {"24", "28", "32", "40"}
    data = dev["settings"]["data"]
    assert data["preprocessing_type"] == "imagenet" and data["train_size"] == 24   # random-resized crop
    for seed in (0, 1):
        stage1 = load(out / f"seed{seed}" / "stage1.json")
        assert stage1["at_size"]["40"]["num_examples"] == 200 and "dev" not in stage1["settings"]["data"]["data_dir"]
        fixres = load(out / f"seed{seed}" / "fixres32_all.json")
        control = load(out / f"seed{seed}" / "control24_all.json")
        assert (fixres["size"], fixres["layers"], control["size"]) == (32, "all", 24)
        assert fixres["learning_rate"] == load(out / "search" / "fixres32_all" / "point0.json")["hp"]["learning_rate"]
        assert 0 <= fixres["test"]["top1"] <= 1 and fixres["test"]["num_examples"] == 200
    assert not (out / "search" / "fixres32_classifier_bn").exists() and not (out / "seed2").exists()
    assert "[e] seed1 control24_all" in first.stdout


def test_a_second_run_reads_the_stored_results_and_trains_nothing(finished):
    tmp_path, env, _ = finished
    stored = {p: p.stat().st_mtime_ns for p in (tmp_path / "results").rglob("*.json")}
    second = run_script("exp_fixres.py", env, *ARGS)
    assert "eval at step" not in second.stdout + second.stderr and "train:" not in second.stderr
    assert "[e] seed1 fixres32_all" in second.stdout
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "results").rglob("*.json")} == stored


def test_section_of_the_run(finished, monkeypatch):
    tmp_path, _, _ = finished
    exp = import_script("exp_fixres")
    monkeypatch.setattr(exp.common, "SEEDS", (0, 1))
    monkeypatch.setattr(exp.common, "TINY", True)   # the run's searches are one point each
    results = tmp_path / "results" / "data"
    section = exp.section(results)
    size = exp.chosen_size(results)
    assert size in (28, 32, 40) and f"Test size chosen on validation: {size} px without" in section["markdown"]
    # only 32 px was fine-tuned: no stage-2 size is chosen before every size's search is stored
    assert exp.stage2_size(results, "all") is None and exp.stage2_size(results, "classifier_bn") is None
    assert "for stage 2: classifier_bn pending, all pending." in section["markdown"]
    no_finetune, classifier_bn, all_layers = section["verdicts"]
    assert no_finetune["interval"]["n"] == 2 and no_finetune["verdict"] != "pending"
    assert classifier_bn["verdict"] == "pending"                   # not run
    assert all_layers["verdict"] == "pending" and "(chosen on stage-2 validation)" in all_layers["claim"]
    assert "| fixres32_all | 32 | all |" in section["markdown"] and "| 40 |" in section["markdown"]


def write(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


def at_sizes(values):
    return {"at_size": {str(s): {"top1": v} for s, v in zip((24, 28, 32, 40), values)}}


def synthetic(root):
    out = root / "e_fixres"
    write(out / "dev" / "stage1.json", {"seed": 0, **at_sizes((0.80, 0.82, 0.83, 0.81))})   # 32 px is best
    for name, offset in (("fixres32_all", 0), ("control24_all", 0), ("fixres28_all", -0.01), ("fixres40_all", -0.005)):
        for i, (lr, top1) in enumerate(zip((0.003, 0.01, 0.03, 0.1), (0.80, 0.81, 0.82, 0.815))):
            write(out / "search" / name / f"point{i}.json", {"hp": {"learning_rate": lr}, "top1": top1 + offset})
    for seed, (base, high, fixres, control) in enumerate(((0.80, 0.81, 0.84, 0.82), (0.81, 0.83, 0.85, 0.82),
                                                           (0.80, 0.83, 0.86, 0.83))):
        write(out / f"seed{seed}" / "stage1.json", {"seed": seed, **at_sizes((base, base, high, base))})
        for name, value in (("fixres32_all", fixres), ("control24_all", control)):
            write(out / f"seed{seed}" / f"{name}.json", {"seed": seed, "learning_rate": 0.03, "test": {"top1": value}})


def test_verdicts_are_paired_intervals_and_missing_variants_are_pending(tmp_path):
    from scipy import stats

    exp = import_script("exp_fixres")
    assert exp.common.SEEDS == (0, 1, 2)
    synthetic(tmp_path)
    section = exp.section(tmp_path)
    assert exp.chosen_size(tmp_path) == 32
    no_finetune, classifier_bn, all_layers = section["verdicts"]
    t = stats.t.ppf(0.975, 2)
    # 32 px − 24 px without fine-tuning: 0.01, 0.02, 0.03
    assert no_finetune["interval"]["mean"] == pytest.approx(0.02)
    assert no_finetune["interval"]["low"] == pytest.approx(0.02 - t * 0.01 / 3 ** 0.5)
    # fixres32_all − control24_all: 0.02, 0.03, 0.03 (mean 0.0267, std 0.00577) → above 0
    assert all_layers["interval"]["mean"] == pytest.approx(0.08 / 3)
    assert all_layers["interval"]["high"] == pytest.approx(0.08 / 3 + t * (1 / 3) ** 0.5 * 0.01 / 3 ** 0.5)
    assert all_layers["verdict"] == "reproduced" and "32 px" in all_layers["claim"]
    assert classifier_bn["verdict"] == "pending" and classifier_bn["interval"] is None
    markdown = section["markdown"]
    assert "Cells measured: 26 of 60." in markdown
    assert "| 32 | 83.00 | 3 | 82.33 ± 1.15 |" in markdown
    assert exp.stage2_size(tmp_path, "all") == 32 and exp.stage2_size(tmp_path, "classifier_bn") is None
    assert ("| fixres32_all | 32 | all | **0.03** (0.003: 80.00, 0.01: 81.00, 0.03: 82.00, 0.1: 81.50) | 3 | 85.00 ± 1.00 |"
            in markdown)
    # a final at another LR than the search's choice is stale: left out, the claim waits for it
    write(tmp_path / "e_fixres" / "seed0" / "fixres32_all.json", {"seed": 0, "learning_rate": 0.01, "test": {"top1": 0.9}})
    assert exp.verdicts(tmp_path)[2]["verdict"] == "pending"
    (tmp_path / "e_fixres" / "search" / "fixres40_all" / "point3.json").unlink()   # one size not fully searched
    assert exp.stage2_size(tmp_path, "all") is None
    empty = exp.section(tmp_path / "nothing")
    assert [v["verdict"] for v in empty["verdicts"]] == ["pending"] * 3
    assert "Cells measured: 0 of 60." in empty["markdown"]


def test_a_stage2_measured_at_another_lr_is_kept_aside_and_re_run(tmp_path, monkeypatch):
    fixres = import_script("exp_fixres")
    monkeypatch.setattr(fixres.common, "RESULTS_DIR", tmp_path / "data")
    monkeypatch.setattr(fixres.common, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.setattr(fixres, "stage1", lambda data_dir, tag, seed: (None, "stage1_dir", {}))
    model_dirs: list = []

    def fake_stage2(config, stage1_dir, model_dir, size, layers, lr):
        model_dirs.append(model_dir)
        return {"top1": lr}

    monkeypatch.setattr(fixres, "stage2", fake_stage2)
    monkeypatch.setattr(fixres, "restart_if_stage1_lost", lambda tag, needed: None)   # the fake stage 1 stays
    variants = [("ft32_all", 32, "all")]
    fixres.final_seed("d", 0, variants, {"ft32_all": 0.01})
    fixres.supersede_stale([0], variants, {"ft32_all": 0.01})  # the stored one is current: kept
    fixres.final_seed("d", 0, variants, {"ft32_all": 0.01})
    assert len(model_dirs) == 1  # stored and reused
    fixres.supersede_stale([0], variants, {"ft32_all": 0.03})
    fixres.final_seed("d", 0, variants, {"ft32_all": 0.03})
    assert len(model_dirs) == 2 and model_dirs[1] != model_dirs[0]
    stored = json.loads((tmp_path / "data" / fixres.OUT / "seed0" / "ft32_all.json").read_text())
    assert stored["learning_rate"] == 0.03 and stored["test"]["top1"] == 0.03
    assert len(list((tmp_path / "data" / fixres.OUT / "seed0" / "superseded").glob("ft32_all.*.json"))) == 1


def test_a_seed_whose_stage1_checkpoint_is_gone_re_runs_whole(tmp_path, monkeypatch):
    import tensorflow as tf

    fixres = import_script("exp_fixres")
    monkeypatch.setattr(fixres.common, "RESULTS_DIR", tmp_path / "data")
    monkeypatch.setattr(fixres.common, "RUNS_DIR", tmp_path / "runs")
    seed_dir = tmp_path / "data" / fixres.OUT / "seed2"
    seed_dir.mkdir(parents=True)
    for name in ("stage1", "a"):
        (seed_dir / f"{name}.json").write_text(json.dumps({"seed": 2, "name": name}))
    needed = [seed_dir / "a.json", seed_dir / "b.json"]
    stage1_dir = tmp_path / "runs" / fixres.OUT / "seed2" / "stage1"
    assert fixres.runs_dir() / "seed2" / "stage1" == stage1_dir
    stage1_dir.mkdir(parents=True)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=tf.Variable(1.0)), str(stage1_dir), 1)
    manager.save()
    fixres.restart_if_stage1_lost("seed2", needed)   # checkpoint there: "b" can start from it
    assert sorted(p.name for p in seed_dir.glob("*.json")) == ["a.json", "stage1.json"]
    for path in stage1_dir.iterdir():
        path.unlink()
    fixres.restart_if_stage1_lost("seed2", needed[:1])   # nothing left to measure: kept
    assert sorted(p.name for p in seed_dir.glob("*.json")) == ["a.json", "stage1.json"]
    fixres.restart_if_stage1_lost("seed2", needed)   # "b" needs a stage 1 that is gone: all aside
    assert list(seed_dir.glob("*.json")) == []
    assert sorted(p.name.split(".")[0] for p in (seed_dir / "superseded").glob("*.json")) == ["a", "stage1"]


def _search_without_stage1(tmp_path, monkeypatch, peak: float):
    """exp_fixres with results under tmp_path, no stage-1 checkpoint, and a stage 2 whose
    validation top-1 peaks at LR `peak`; returns (module, the LRs evaluated, the search folder)."""
    fixres = import_script("exp_fixres")
    monkeypatch.setattr(fixres.common, "RESULTS_DIR", tmp_path / "data")
    monkeypatch.setattr(fixres.common, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.setattr(fixres.common, "TINY", False)
    monkeypatch.setattr(fixres, "stage1", lambda data_dir, tag, seed: (None, "stage1_dir", {}))
    evaluated = []
    monkeypatch.setattr(fixres, "stage2", lambda config, s1, model_dir, size, layers, lr: evaluated.append(lr) or {
        "top1": -abs(math.log10(lr / peak))})
    return fixres, evaluated, tmp_path / "data" / fixres.OUT / "search" / "ft32_all"


def test_an_lr_search_whose_dev_stage1_is_gone_re_runs_every_point(tmp_path, monkeypatch):
    fixres, evaluated, search = _search_without_stage1(tmp_path, monkeypatch, peak=0.1)   # inside once grown to 0.3
    for i, lr in enumerate(fixres.STAGE2_LRS[:-1]):   # the grid grew by one point since
        write(search / f"point{i}.json", {"hp": {"learning_rate": lr}, "top1": 0.5})
    write(tmp_path / "data" / fixres.OUT / "dev" / "stage1.json", {"seed": 0})
    assert fixres.chosen_lrs("d", [("ft32_all", 32, "all")]) == {"ft32_all": 0.1}
    assert evaluated == [*fixres.STAGE2_LRS, 0.3]   # every point again, from one (new) stage 1; then 0.3
    assert len(list((search / "superseded").glob("*.json"))) == len(fixres.STAGE2_LRS) - 1
    assert len(list((tmp_path / "data" / fixres.OUT / "dev" / "superseded").glob("stage1.*.json"))) == 1


def test_a_grid_growth_needing_a_lost_dev_stage1_re_runs_the_search_from_a_new_one(tmp_path, monkeypatch):
    """Every point measured, the best (0.1) an end: its growth (0.3) must come from the stage 1
    the others used; that one is gone, so every point goes aside and the search runs again."""
    fixres, evaluated, search = _search_without_stage1(tmp_path, monkeypatch, peak=0.3)
    for i, lr in enumerate(fixres.STAGE2_LRS):
        write(search / f"point{i}.json", {"hp": {"learning_rate": lr}, "top1": lr})
    write(tmp_path / "data" / fixres.OUT / "dev" / "stage1.json", {"seed": 0})
    assert len(fixres.planned_grid(fixres.out_dir(), "ft32_all")) == len(fixres.STAGE2_LRS) + 1
    assert fixres.chosen_lrs("d", [("ft32_all", 32, "all")]) == {"ft32_all": 0.3}
    assert evaluated == [*fixres.STAGE2_LRS, 0.3, 1.0]   # 0.3 an end in turn: 1.0 too (two steps)
    assert len(list((search / "superseded").glob("*.json"))) == len(fixres.STAGE2_LRS)
    assert [p["hp"]["learning_rate"] for p in fixres.common.stored_points(search)] == [*fixres.STAGE2_LRS, 0.3, 1.0]


def test_a_stage2_model_dir_names_its_stage1():
    fixres = import_script("exp_fixres")
    first = fixres.stage1_id({"finished": "2026-11-29T01:02:03Z"})
    assert first == "s1_20261129T010203Z" and first != fixres.stage1_id({"finished": "2026-11-29T02:00:00Z"})

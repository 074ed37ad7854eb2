"""The results suite's protocol helpers: paired intervals, verdicts, the validation split."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import tensorflow as tf

from results_testlib import import_script, make_data_root

common = import_script("common")


def test_paired_difference_is_the_student_t_interval_of_the_per_seed_differences():
    interval = common.paired_difference([0.90, 0.91, 0.92], [0.91, 0.93, 0.95])
    # differences 0.01, 0.02, 0.03: mean 0.02, sd 0.01, t(0.975, 2) = 4.3027
    assert interval["mean"] == pytest.approx(0.02)
    assert interval["high"] - interval["mean"] == pytest.approx(4.302653 * 0.01 / math.sqrt(3), rel=1e-5)
    assert interval["low"] == pytest.approx(0.02 - 4.302653 * 0.01 / math.sqrt(3), rel=1e-5)
    with pytest.raises(ValueError, match="same non-zero length"):
        common.paired_difference([1.0], [1.0, 2.0])


@pytest.mark.parametrize("low, high, sign, expected", [
    (0.1, 0.5, 1, "reproduced"), (-0.5, -0.1, 1, "not reproduced"), (-0.1, 0.3, 1, "inconclusive"),
    (-0.5, -0.1, -1, "reproduced"), (0.1, 0.5, -1, "not reproduced"), (float("nan"), float("nan"), 1, "inconclusive"),
])
def test_verdict_reads_the_interval_on_the_claimed_side(low, high, sign, expected):
    assert common.verdict({"low": low, "high": high}, sign) == expected


def test_verdict_row_is_pending_until_every_seed_of_both_arms_is_measured():
    a, b = {0: 0.90, 1: 0.91, 2: 0.92}, {0: 0.95, 1: 0.96}
    pending = common.verdict_row("claim", a, b, expected=3)
    assert pending["verdict"] == "pending" and pending["interval"] is None and "2 of 3" in pending["effect"]
    done = common.verdict_row("claim", a, {**b, 2: 0.97}, scale=100, expected=3)
    assert done["verdict"] == "reproduced" and done["effect"].startswith("+5.00 [")
    lower_is_better = common.verdict_row("mce", {0: 60, 1: 61, 2: 62}, {0: 50, 1: 52, 2: 51}, claimed_sign=-1)
    assert lower_is_better["verdict"] == "reproduced"


def test_format_helpers():
    assert common.format_mean_std([0.9, 0.92], 100) == "91.00 ± 1.41"
    assert common.format_mean_std([]) == "pending"
    assert common.format_interval(None) == "pending"


def _labels(folder, split):
    files = sorted(tf.io.gfile.glob(str(folder / f"{split}-*")))
    spec = {"image/class/label": tf.io.FixedLenFeature([], tf.int64),
            "image/encoded": tf.io.FixedLenFeature([], tf.string)}
    parsed = [tf.io.parse_single_example(r, spec) for r in tf.data.TFRecordDataset(files)]
    return np.array([int(p["image/class/label"]) for p in parsed]), {bytes(p["image/encoded"].numpy()) for p in parsed}


def test_dev_split_holds_out_a_stratified_part_of_train_and_never_the_test_split(tmp_path, monkeypatch):
    root = make_data_root(tmp_path / "data", num_train=400, num_test=50)
    monkeypatch.setattr(common, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.setattr(common, "DEV_VALIDATION_COUNT", 100)
    dev = common.dev_split(str(root / "fashion_mnist"), "fashion_mnist")
    train_labels, train_images = _labels(tmp_path / "runs" / "dev" / "fashion_mnist", "train")
    val_labels, val_images = _labels(tmp_path / "runs" / "dev" / "fashion_mnist", "validation")
    source_labels, source_images = _labels(root / "fashion_mnist", "train")
    _, test_images = _labels(root / "fashion_mnist", "validation")
    assert len(train_labels) + len(val_labels) == 400 and 90 <= len(val_labels) <= 110
    assert not train_images & val_images and (train_images | val_images) <= source_images
    assert not val_images & test_images
    expected = np.bincount(source_labels, minlength=10) * len(val_labels) / 400
    assert np.all(np.abs(np.bincount(val_labels, minlength=10) - expected) <= 1.5)
    assert common.dev_split(str(root / "fashion_mnist"), "fashion_mnist") == dev  # reused, not rebuilt


def _counting_evaluate(calls: list):
    def evaluate(hp: dict) -> dict:
        calls.append(dict(hp))
        return {"top1": hp["lr"] / 10}
    return evaluate


def test_search_reuses_stored_points_and_refuses_a_changed_grid(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "TINY", False)
    calls: list = []
    first = common.search(tmp_path, [{"lr": 1}, {"lr": 3}], _counting_evaluate(calls))
    assert first["best"] == {"lr": 3} and len(calls) == 2
    again = common.search(tmp_path, [{"lr": 1}, {"lr": 3}, {"lr": 2}], _counting_evaluate(calls))
    assert calls[2:] == [{"lr": 2}] and again["best"] == {"lr": 3}  # only the appended point ran
    with pytest.raises(SystemExit, match="grid changed"):
        common.search(tmp_path, [{"lr": 5}], _counting_evaluate(calls))


def test_search_with_supersede_keeps_a_stale_point_aside_and_re_measures_it(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "TINY", False)
    calls: list = []
    common.search(tmp_path, [{"lr": 1}, {"lr": 4}], _counting_evaluate(calls))

    def evaluate_once_stale_points_are_gone(hp: dict) -> dict:
        stored = [json.loads(p.read_text())["hp"] for p in tmp_path.glob("point*.json")]
        assert all(h in ({"lr": 5}, {"lr": 3}) for h in stored), "old and new points side by side"
        return _counting_evaluate(calls)(hp)

    result = common.search(tmp_path, [{"lr": 5}, {"lr": 3}], evaluate_once_stale_points_are_gone, supersede=True)
    assert calls[2:] == [{"lr": 5}, {"lr": 3}] and result["best"] == {"lr": 5}
    kept = list((tmp_path / "superseded").glob("point0.*.json"))
    assert len(kept) == 1 and '"lr": 1' in kept[0].read_text()  # the old measurement is kept
    assert len(list((tmp_path / "superseded").glob("point1.*.json"))) == 1
    assert sorted(p.name for p in tmp_path.glob("point*.json")) == ["point0.json", "point1.json"]


def test_supersede_if_leaves_a_current_result_alone(tmp_path):
    path = tmp_path / "seed0.json"
    assert common.supersede_if(path, lambda stored: True) is None  # nothing stored
    path.write_text('{"hp": {"lr": 1}}')
    assert common.supersede_if(path, lambda stored: stored["hp"] != {"lr": 1}) is None and path.is_file()
    kept = common.supersede_if(path, lambda stored: stored["hp"] != {"lr": 2})
    assert kept is not None and kept.parent.name == "superseded" and not path.exists()
    path.write_text('{"hp": {"lr": 3}}')   # superseded again within the same second: both kept
    again = common.supersede_if(path, lambda stored: True)
    assert again != kept and {json.loads(p.read_text())["hp"]["lr"] for p in kept.parent.iterdir()} == {1, 3}


def test_the_budget_table_and_machines_leave_superseded_results_out(tmp_path, monkeypatch):
    report = import_script("make_report")
    monkeypatch.setattr(report.common, "RESULTS_DIR", tmp_path)
    (tmp_path / "a_assembled" / "superseded").mkdir(parents=True)
    (tmp_path / "a_assembled" / "seed0.json").write_text(json.dumps({"seconds": 60, "machine": "m1"}))
    (tmp_path / "a_assembled" / "superseded" / "seed0.1.json").write_text(json.dumps({"seconds": 120, "machine": "m2"}))
    row = next(line for line in report.budget_table().splitlines() if line.startswith("| (a)"))
    assert row.split("|")[2:5] == [" 1 ", " 1.0 ", " 1 (2.0 min) "]
    assert report.machines() == "- m1: 1 results"


def test_a_search_whose_grid_shrank_moves_its_old_tail_aside(tmp_path):
    for index, lr in enumerate((1, 2, 3)):
        (tmp_path / f"point{index}.json").write_text(json.dumps({"hp": {"lr": lr}, "top1": 0.9 if lr == 3 else 0.5}))
    result = common.search(tmp_path, [{"lr": 1}, {"lr": 2}], lambda hp: {"top1": 0.0}, supersede=True)
    assert result["best"] == {"lr": 1} and not (tmp_path / "point2.json").exists()
    assert len(list((tmp_path / "superseded").glob("point2.*.json"))) == 1


def test_every_stored_recipe_is_still_the_recipe_its_config_gives():
    """A config field added later must not invalidate the committed results: rebuilt from a stored
    recipe, the config gives that same recipe back (else add the field to common.LATER_SETTINGS)."""
    from pathlib import Path

    from assembled_cnn.config import ExperimentConfig

    root = Path(__file__).resolve().parents[2] / "docs" / "results" / "data"
    stored = [p for p in root.rglob("*.json") if "superseded" not in p.parts]
    checked, recipes = 0, []
    for path in stored:
        recipe = json.loads(path.read_text()).get("recipe")
        if not isinstance(recipe, dict) or "run" not in recipe:
            continue
        recipes.append(recipe)
        values = json.loads(json.dumps(recipe))
        values["run"]["model_dir"] = "/tmp/m"
        assert common.recipe_of(ExperimentConfig.from_dict(values)) == recipe, path
        checked += 1
    assert checked >= 4  # (a)'s search points at least
    recipe = recipes[0]
    config = ExperimentConfig.from_dict({**recipe, "run": {**recipe["run"], "model_dir": "/m", "eval_flip": True}})
    assert common.recipe_of(config)["run"]["eval_flip"] is True  # set, a later setting is part of the recipe

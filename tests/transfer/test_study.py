"""The transfer study end to end on toy TFRecords: 2 tiny "pretrained" models, 2 seeds, all
3 regimes; tables, mean ± std, winner, resume (counted trainer calls), CSV and PNG."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from assembled_cnn.model_dir import save_model_checkpoint, save_model_config
from assembled_cnn.nets import build_model, model_config
from assembled_cnn.train import runner as runner_lib
from assembled_cnn.transfer import study, study_report, subsets

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from trainlib import NUM_CLASSES, write_toy_dataset  # noqa: E402

MODELS = {"r18a": dict(num_filters=8), "r18b": dict(num_filters=8, use_resnet_d=True)}


@pytest.fixture(scope="module")
def toy_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    data = write_toy_dataset(root / "toy", train=48, validation=16, shards=2)
    pretrained = {}
    for name, hparams in MODELS.items():
        config = model_config("resnet18", num_classes=NUM_CLASSES, bn_momentum=0.8, **hparams)
        model_dir = root / name
        save_model_config(str(model_dir), config)
        save_model_checkpoint(str(model_dir), build_model(config=config))
        pretrained[name] = str(model_dir)
    return root, data, pretrained


def _argv(root, data, pretrained, output="out"):
    return ["--models", "r18a,r18b", "--datasets", str(data), "--regimes", "fixed,finetune,random",
            "--seeds", "2", "--output_dir", str(root / output), "--tiny", "--preprocessing_type", "cifar",
            "--max_train_steps", "1", "--subset_per_class", "6",
            "--pretrained", ",".join(f"{k}={v}" for k, v in pretrained.items())]


@pytest.fixture(scope="module")
def first_run(toy_setup):
    root, data, pretrained = toy_setup
    calls = []
    original = runner_lib.run

    def counting_run(config):
        calls.append(config.run.model_dir)
        return original(config)
    runner_lib.run = counting_run
    try:
        assert study.main(_argv(root, data, pretrained)) == 0
    finally:
        runner_lib.run = original
    return root / "out", calls


def test_every_cell_runs_once_and_tables_have_every_cell(first_run):
    out, calls = first_run
    assert len(calls) == 2 * 2 * 2  # models × trained regimes × seeds
    cells = sorted((out / "cells").rglob("seed*.json"))
    assert len(cells) == 2 * 3 * 2
    rows = list(csv.DictReader(open(out / "study_summary.csv")))
    assert {(r["model"], r["regime"]) for r in rows} == {(m, g) for m in MODELS for g in study.REGIMES}
    assert all(r["n_seeds"] == "2" and r["dataset"] == "toy" for r in rows)
    assert sum(int(r["winner"]) for r in rows) == 1
    table_lines = [line for line in (out / "study.md").read_text().splitlines() if line.startswith("|")]
    assert sum("**" in line for line in table_lines) == 2  # one bold winner in each of the two tables
    assert (out / "study.png").stat().st_size > 1000
    assert len(list(csv.DictReader(open(out / "study_cells.csv")))) == 12
    warm = json.loads((out / "runs/toy/r18a/finetune/seed0/warm_start.json").read_text())
    assert warm["restored"] and not (out / "runs/toy/r18a/random/seed0/warm_start.json").exists()


def test_resume_skips_finished_cells(first_run, toy_setup, monkeypatch):
    out, _ = first_run
    root, data, pretrained = toy_setup
    (out / "cells/toy/r18b/random/seed1.json").unlink()
    calls = []
    original = runner_lib.run
    monkeypatch.setattr(runner_lib, "run", lambda config: calls.append(config) or original(config))
    assert study.main(_argv(root, data, pretrained)) == 0
    assert len(calls) == 1 and calls[0].run.model_dir.endswith("r18b/random/seed1")


def test_mean_std_and_winner_from_seed_jsons(first_run, toy_setup):
    out, _ = first_run
    accuracies = {("r18a", "fixed"): (0.50, 0.70), ("r18b", "finetune"): (0.90, 0.80)}
    for (model, regime), values in accuracies.items():
        for seed, value in enumerate(values):
            path = out / f"cells/toy/{model}/{regime}/seed{seed}.json"
            stored = json.loads(path.read_text())
            stored.update(accuracy=value, log_odds=float(np.log(value / (1 - value))))
            path.write_text(json.dumps(stored))
    for path in out.rglob("seed*.json"):  # everything else far below
        stored = json.loads(path.read_text())
        if (path.parent.parent.name, path.parent.name) not in accuracies:
            path.write_text(json.dumps({**stored, "accuracy": 0.1, "log_odds": float(np.log(1 / 9))}))
    root, data, pretrained = toy_setup
    assert study.main(_argv(root, data, pretrained)) == 0
    rows = {(r["model"], r["regime"]): r for r in csv.DictReader(open(out / "study_summary.csv"))}
    fixed, finetune = rows[("r18a", "fixed")], rows[("r18b", "finetune")]
    assert float(fixed["accuracy_mean"]) == pytest.approx(0.60)
    assert float(fixed["accuracy_std"]) == pytest.approx(np.std([0.5, 0.7], ddof=1))
    assert finetune["winner"] == "1" and fixed["winner"] == "0"
    assert "| r18b | finetune | **85.00 ± 7.07** |" in (out / "study.md").read_text()


def test_changed_settings_are_refused(first_run, toy_setup):
    root, data, pretrained = toy_setup
    argv = _argv(root, data, pretrained) + ["--learning_rate", "0.5"]
    with pytest.raises(study.StudyError, match="learning_rate"):
        study.run_study(study.config_from_args(study.build_parser().parse_args(argv)))


def test_subset_is_deterministic_per_seed(toy_setup, tmp_path):
    _, data, _ = toy_setup
    labels = np.arange(64) % NUM_CLASSES
    first = subsets.choose_per_class(labels, 5, seed=1)
    assert np.array_equal(first, subsets.choose_per_class(labels, 5, seed=1))
    assert not np.array_equal(first, subsets.choose_per_class(labels, 5, seed=2))
    assert np.bincount(labels[first]).tolist() == [5] * NUM_CLASSES
    built = subsets.build_subset(str(data), str(tmp_path / "sub"), 3, seed=0)
    info = json.loads((Path(built) / "dataset_info.json").read_text())
    assert info["splits"]["train"]["num_records"] == 3 * NUM_CLASSES
    assert (Path(built) / "validation-00000-of-00001").is_symlink()


def test_clear_errors(toy_setup, tmp_path):
    root, data, pretrained = toy_setup
    with pytest.raises(study.StudyError, match="--pretrained nope=MODEL_DIR"):
        study.resolve_model("nope", {})
    with pytest.raises(study.StudyError, match="--datasets"):
        study.resolve_dataset("mnist", str(tmp_path))
    assert study_report.mean_std([0.3]) == (0.3, 0.0)

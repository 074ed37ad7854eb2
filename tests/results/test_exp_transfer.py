"""scripts/results/exp_transfer.py at tiny size: it runs, resumes without retraining, and
section() builds the tables and paired verdicts from the stored JSON only."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "results" / "exp_transfer.py"
TARGET = "sklearn_digits"


def _run(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)


def _stamps(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Two runs of the script (digits only; fixed features and fine-tuning); before the second,
    one final cell's result JSON is deleted, as if the run had been killed while copying it."""
    root = tmp_path_factory.mktemp("transfer")
    env = {**os.environ, "RESULTS_TINY": "1", "TRANSFER_TARGETS": TARGET, "TRANSFER_STAGES": "fixed,finetune",
           "RESULTS_DIR": str(root / "docs" / "data"), "RUNS_DIR": str(root / "runs"),
           "DATA_ROOT": str(root / "data"), "TF_CPP_MIN_LOG_LEVEL": "2"}
    first = _run(env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    results = root / "docs" / "data" / "cd_transfer"
    lost = results / "cells" / TARGET / "n4" / "finetune" / "seed1.json"
    lost_cell = json.loads(lost.read_text())
    lost.unlink()
    before = {"results": _stamps(results), "runs": _stamps(root / "runs")}
    second = _run(env)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    return {"root": root, "results": results, "first": first, "second": second, "before": before,
            "lost": lost, "lost_cell": lost_cell}


@pytest.fixture(scope="module")
def exp_transfer():
    sys.path.insert(0, str(SCRIPT.parent))
    import exp_transfer as module

    return module


@pytest.fixture(scope="module")
def transfer_report(exp_transfer):
    import transfer_report as module

    return module


def test_digits_target_has_a_fixed_stratified_test_split(tiny_run):
    info = json.loads((tiny_run["root"] / "data" / TARGET / "dataset_info.json").read_text())
    assert info["num_classes"] == 10 and info["channels"] == 1
    assert info["splits"]["train"]["num_records"] == 1437
    assert info["splits"]["validation"]["num_records"] == 360


def test_first_run_writes_every_cell_and_chooses_on_carved_validation(tiny_run):
    results = tiny_run["results"]
    cells = sorted(str(p.relative_to(results / "cells")) for p in (results / "cells").rglob("*.json"))
    assert cells == [f"{TARGET}/n4/finetune/seed0.json", f"{TARGET}/n4/finetune/seed1.json",
                     f"{TARGET}/n4/fixed/seed0.json", f"{TARGET}/n4/fixed/seed1.json",
                     f"{TARGET}/n8/fixed/seed0.json", f"{TARGET}/n8/fixed/seed1.json"]
    final = json.loads((results / "cells" / TARGET / "n4" / "finetune" / "seed0.json").read_text())
    point = json.loads((results / "search" / TARGET / "n4" / "finetune" / "point0.json").read_text())
    assert final["num_test"] == 200          # the tiny test split, 20 per class
    assert point["num_test"] == 50           # 25 % carved from the 200 tiny train images, not the test split
    assert final["hp"] == point["hp"] and final["recipe"]["learning_rate"] == point["hp"]["learning_rate"]
    fixed = json.loads((results / "cells" / TARGET / "n8" / "fixed" / "seed0.json").read_text())
    assert fixed["recipe"]["subset_per_class"] == 8
    assert 0.0 <= fixed["top1"] <= 1.0 and math.isfinite(fixed["log_odds"])
    # the probe's C is chosen like the trained regimes' LR: on the same carved validation images
    probe = json.loads((results / "search" / TARGET / "n8" / "fixed" / "probe.json").read_text())
    assert probe["num_validation"] == point["num_test"] == 50
    assert set(probe["val_top1"]) == {"0.01", "1", "100"} and probe["top1"] == probe["val_top1"][f"{probe['C']:g}"]
    for seed in (0, 1):
        cell = json.loads((results / "cells" / TARGET / "n8" / "fixed" / f"seed{seed}.json").read_text())
        assert cell["hp"] == {"probe_C": probe["C"]} and cell["probe_C"] == probe["C"]
        assert cell["recipe"]["probe_grid"] == [probe["C"]]  # one C: nothing left to choose on the subset


def test_second_run_resumes_without_training(tiny_run):
    second, before = tiny_run["second"], tiny_run["before"]
    assert "eval at step" not in second.stdout + second.stderr       # no training, no evaluation
    assert _stamps(tiny_run["root"] / "runs") == before["runs"]       # no checkpoint or feature rewritten
    after = _stamps(tiny_run["results"])
    kept = [k for k in before["results"] if not k.endswith("protocol.json")]
    assert len(kept) == 8 and all(after[k] == before["results"][k] for k in kept)   # 5 cells, 3 search results
    restored = json.loads(tiny_run["lost"].read_text())               # copied back from the study's cache
    assert restored["top1"] == tiny_run["lost_cell"]["top1"]


def test_section_from_the_tiny_run(tiny_run, exp_transfer):
    out = exp_transfer.section(tiny_run["results"].parent)
    md, rows = out["markdown"], {r["claim"].split(" (")[0]: r for r in out["verdicts"]}
    assert "6 of 12 cells measured" in md
    assert f"| {TARGET} | 4 | " in md and f"| {TARGET} | 8 | " in md and "Log-odds" in md
    pretraining = rows["(c) ImageNet pretraining beats random init"]
    assert pretraining["verdict"] == "pending" and pretraining["interval"] is None
    finetune_vs_fixed = rows["(d) fine-tuning beats fixed features"]
    cells = tiny_run["results"] / "cells" / TARGET / "n4"
    diffs = [100 * (json.loads((cells / "finetune" / f"seed{s}.json").read_text())["top1"]
                    - json.loads((cells / "fixed" / f"seed{s}.json").read_text())["top1"]) for s in (0, 1)]
    assert finetune_vs_fixed["interval"]["n"] == 2
    assert finetune_vs_fixed["interval"]["mean"] * 100 == pytest.approx(sum(diffs) / 2)
    assert finetune_vs_fixed["verdict"] in ("reproduced", "not reproduced", "inconclusive")
    assert (tiny_run["results"].parents[1] / "cd_transfer.png").stat().st_size > 1000
    probe = json.loads((tiny_run["results"] / "search" / TARGET / "n8" / "fixed" / "probe.json").read_text())
    assert f"{TARGET} 8/class: C={probe['C']:g} ({100 * probe['top1']:.2f} %)" in md   # the C the finals used


def _write(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload))


def _synthetic(results_dir: Path, exp_transfer) -> None:
    """fashion_mnist at 100/class: finetune 90/91/92 %, random 80/82/81 %, fixed 85 % ± 0,
    L2-SP one seed short, EMA 1 point below fine-tuning on every seed."""
    out = results_dir / "cd_transfer"
    _write(out / "protocol.json", {**exp_transfer.protocol(), "targets": ["fashion_mnist"], "seeds": [0, 1, 2],
                                   "sizes": {"fixed": {"fashion_mnist": [100]}, "finetune": {"fashion_mnist": [100]},
                                             "random": {"fashion_mnist": [100]}}, "aux": ["fashion_mnist", 100]})
    arms = {"finetune": [0.90, 0.91, 0.92], "random": [0.80, 0.82, 0.81], "fixed": [0.85, 0.85, 0.85],
            "finetune_l2sp": [0.95, 0.95], "finetune_ema": [0.89, 0.90, 0.91]}
    for arm, values in arms.items():
        for seed, top1 in enumerate(values):
            _write(out / "cells" / "fashion_mnist" / "n100" / arm / f"seed{seed}.json",
                   {"top1": top1, "log_odds": math.log(top1 / (1 - top1)), "hp": {"learning_rate": 0.01},
                    "cell_seconds": 60.0, **({"probe_C": 1.0} if arm == "fixed" else {})})
    for regime, scores in (("finetune", (0.7, 0.9, 0.9)), ("random", (0.6, 0.8))):   # finished searches
        for index, hp in enumerate(exp_transfer.search_grid(regime)):
            _write(out / "search" / "fashion_mnist" / "n100" / regime / f"point{index}.json",
                   {"hp": hp, "top1": scores[index] if index < len(scores) else 0.5})


def test_section_paired_intervals_and_pending_on_synthetic_json(tmp_path, exp_transfer):
    from scipy import stats

    _synthetic(tmp_path / "data", exp_transfer)
    out = exp_transfer.section(tmp_path / "data")
    rows = {r["claim"].split(" (")[0]: r for r in out["verdicts"]}
    pretraining = rows["(c) ImageNet pretraining beats random init"]["interval"]
    half = stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)              # differences 10, 9, 11 points
    assert pretraining["mean"] * 100 == pytest.approx(10.0)
    assert (pretraining["low"] * 100, pretraining["high"] * 100) == (pytest.approx(10 - half), pytest.approx(10 + half))
    assert rows["(c) ImageNet pretraining beats random init"]["verdict"] == "reproduced"
    assert rows["(d) fine-tuning beats fixed features"]["verdict"] == "reproduced"
    assert rows["(c, d) EMA of the weights helps fine-tuning"]["verdict"] == "not reproduced"
    l2sp = rows["(c, d) L2-SP beats L2 when fine-tuning"]
    assert l2sp["verdict"] == "pending" and l2sp["interval"] is None and "2 of 3" in l2sp["effect"]
    md = out["markdown"]
    assert "14 of 15 cells measured" in md
    assert "| fashion_mnist | 100 | 85.00 ± 0.00 | 91.00 ± 1.00 | 81.00 ± 1.00 |" in md
    assert f"| fashion_mnist | 100 | {math.log(0.85 / 0.15):.3f} ± 0.000 |" in md
    assert "lr=0.003 wd=4e-05: 70.00, **lr=0.01 wd=4e-05: 90.00**, lr=0.03 wd=4e-05: 90.00" in md  # tie: earlier
    # an EMA final still at an earlier fine-tune recipe (another LR) is left out, not paired
    ema = tmp_path / "data" / "cd_transfer" / "cells" / "fashion_mnist" / "n100" / "finetune_ema" / "seed0.json"
    _write(ema, {**json.loads(ema.read_text()), "hp": {"learning_rate": 0.03, "ema_decay": 0.99}})
    rows = {r["claim"].split(" (")[0]: r for r in exp_transfer.section(tmp_path / "data")["verdicts"]}
    ema_row = rows["(c, d) EMA of the weights helps fine-tuning"]
    assert ema_row["verdict"] == "pending" and "2 of 3" in ema_row["effect"]


def test_l2sp_follows_the_fine_tune_recipe_by_its_lr_and_beta(transfer_report):
    finetune = {"learning_rate": 0.01, "weight_decay": 4e-4}
    assert transfer_report.follows({"l2sp_alpha": 0.1, "l2sp_beta": 4e-4, "learning_rate": 0.01, "weight_decay": 0.0}, finetune)
    assert not transfer_report.follows({"l2sp_alpha": 0.1, "l2sp_beta": 4e-5, "learning_rate": 0.01}, finetune)
    assert not transfer_report.follows({"l2sp_alpha": 0.1, "l2sp_beta": 4e-4, "learning_rate": 0.03}, finetune)
    assert transfer_report.follows({**finetune, "ema_decay": 0.99}, finetune)
    assert not transfer_report.follows({"learning_rate": 0.01, "weight_decay": 4e-5, "ema_decay": 0.99}, finetune)


def test_section_with_no_results_is_all_pending(tmp_path, exp_transfer):
    out = exp_transfer.section(tmp_path / "data")
    assert out["verdicts"] and all(r["verdict"] == "pending" and r["interval"] is None for r in out["verdicts"])
    assert "0 of " in out["markdown"] and "pending" in out["markdown"]
    assert not (tmp_path / "cd_transfer.png").exists()


def test_final_cells_re_measure_when_the_search_chooses_another_recipe(tmp_path, exp_transfer, monkeypatch):
    """A stored final of another grid point (the grid grew and chose differently) is kept aside
    and re-measured in a model_dir of its own, never reused for the new recipe."""
    monkeypatch.setattr(exp_transfer.common, "RESULTS_DIR", tmp_path / "data")
    monkeypatch.setattr(exp_transfer.common, "RUNS_DIR", tmp_path / "runs")
    work_dirs: list = []

    cell_dir = tmp_path / "data" / "cd_transfer" / "cells" / "t" / "n10" / "finetune"

    def fake_cell(data_dir, output_dir, regime, per_class, seed, hp, model=None):
        stored = [json.loads(p.read_text())["hp"] for p in cell_dir.glob("seed*.json")]
        assert all(h == hp for h in stored), "a cell mixes two recipes while it is re-measured"
        work_dirs.append(output_dir)
        return {"top1": hp["learning_rate"], "hp": hp, "arm": regime, "per_class": per_class}

    monkeypatch.setattr(exp_transfer, "run_cell", fake_cell)
    old, new = {"learning_rate": 0.01, "weight_decay": 4e-5}, {"learning_rate": 0.03, "weight_decay": 4e-4}
    exp_transfer.final_cells("t", "d", "finetune", 10, old)
    again = exp_transfer.final_cells("t", "d", "finetune", 10, old)
    assert len(work_dirs) == len(exp_transfer.common.SEEDS) and again[0]["top1"] == 0.01  # reused
    changed = exp_transfer.final_cells("t", "d", "finetune", 10, new)
    assert all(cell["top1"] == 0.03 for cell in changed.values())
    assert work_dirs[-1] != work_dirs[0]  # the new recipe never resumes the old one's checkpoints
    kept = list((tmp_path / "data" / "cd_transfer" / "cells" / "t" / "n10" / "finetune" / "superseded").glob("*.json"))
    assert len(kept) == len(exp_transfer.common.SEEDS)


def test_edge_axes_name_the_settings_chosen_at_the_end_of_their_range(transfer_report):
    points = [{"hp": {"learning_rate": lr, "weight_decay": wd}} for wd in (4e-5, 4e-4) for lr in (0.03, 0.1, 0.3)]
    assert transfer_report.edge_axes(points, points[0]) == ["lr"]            # lr 0.03 an end; wd: two values only
    assert transfer_report.edge_axes(points, points[4]) == []                # lr 0.1 inside
    assert transfer_report.edge_axes(points, points[5]) == ["lr"]
    single = [{"hp": {"learning_rate": 0.01, "l2sp_alpha": a}} for a in (0.001, 0.01, 0.1)]
    assert transfer_report.edge_axes(single, single[1]) == []                # one lr only: not an axis


def test_fixed_cells_of_the_earlier_protocol_are_kept_aside_and_re_measured(exp_transfer, tmp_path, monkeypatch):
    """Before 2026-11-29 the probe chose C on each subset (hp {}); those cells must not be reused."""
    monkeypatch.setattr(exp_transfer.common, "RESULTS_DIR", tmp_path / "data")
    monkeypatch.setattr(exp_transfer.common, "RUNS_DIR", tmp_path / "runs")
    monkeypatch.setattr(exp_transfer, "dev_dir", lambda target, data_dir: "dev")
    monkeypatch.setattr(exp_transfer, "probe_search", lambda target, dev, n, model, path: 0.1)
    measured = []
    monkeypatch.setattr(exp_transfer, "run_cell", lambda data_dir, work, arm, n, seed, hp, model: measured.append(
        (arm, n, seed, hp, model)) or {"top1": 0.5, "hp": hp, "probe_C": hp["probe_C"]})
    folder = tmp_path / "data" / "cd_transfer" / "cells" / "t" / "n10" / "fixed"
    folder.mkdir(parents=True)
    for seed in exp_transfer.common.SEEDS:
        (folder / f"seed{seed}.json").write_text(json.dumps({"top1": 0.4, "hp": {}, "probe_C": 1.0}))
    monkeypatch.setattr(exp_transfer, "sizes", lambda regime, target: (10,))
    exp_transfer.fixed("t", "d")
    assert len(list((folder / "superseded").glob("seed*.json"))) == len(exp_transfer.common.SEEDS)
    assert [m[3] for m in measured] == [{"probe_C": 0.1}] * len(exp_transfer.common.SEEDS)
    assert all(json.loads((folder / f"seed{s}.json").read_text())["hp"] == {"probe_C": 0.1}
               for s in exp_transfer.common.SEEDS)
    exp_transfer.fixed("t", "d", "efficientnet_lite2", tmp_path / "models")   # another network: its own arm
    assert measured[-1][0] == "fixed_efficientnet_lite2" and measured[-1][4] == "efficientnet_lite2"
    assert (tmp_path / "models" / "cells" / "t" / "n10" / "fixed_efficientnet_lite2" / "seed0.json").is_file()


def test_transfer_sizes_limits_what_runs_but_not_what_the_protocol_plans(exp_transfer, monkeypatch):
    monkeypatch.setattr(exp_transfer, "SIZES", {"fixed": (10, 100, 1000), "finetune": (10, 100), "random": (10, 100)})
    monkeypatch.setattr(exp_transfer, "ONLY_SIZES", (100,))
    assert exp_transfer.sizes_to_run("finetune", "mnist") == (100,)
    assert exp_transfer.sizes_to_run("random", exp_transfer.DIGITS) == (100,)  # digits capped at 100
    assert exp_transfer.protocol(("mnist",))["sizes"]["finetune"]["mnist"] == [10, 100]
    monkeypatch.setattr(exp_transfer, "ONLY_SIZES", ())
    assert exp_transfer.sizes_to_run("finetune", "mnist") == (10, 100)


def test_a_grid_grows_past_the_end_validation_chose_by_one_rule_for_every_regime(exp_transfer, tmp_path,
                                                                                monkeypatch):
    """Random init peaking below its grid gets 0.003, then 0.001 (MAX_EDGE_STEPS = 2) at every
    weight decay, appended so stored points keep their index; a peak inside the grid adds
    nothing; a second run measures nothing and moves nothing aside."""
    monkeypatch.setattr(exp_transfer.common, "TINY", False)
    monkeypatch.setattr(exp_transfer.common, "RESULTS_DIR", tmp_path / "data")
    monkeypatch.setattr(exp_transfer.common, "RUNS_DIR", tmp_path / "runs")
    measured = []
    peak = {"random": 0.0003, "finetune": 0.03}

    def fake_cell(data_dir, work, arm, per_class, seed, hp, model=None):
        measured.append((arm, hp["learning_rate"], hp["weight_decay"]))
        distance = abs(math.log10(hp["learning_rate"] / peak[arm]))
        return {"top1": 0.9 - 0.1 * distance - hp["weight_decay"], "mean_per_class": 0.0, "num_test": 10,
                "cell_seconds": 1.0}

    monkeypatch.setattr(exp_transfer, "run_cell", fake_cell)
    best = exp_transfer.searched_lr("t", "dev", "random", 100)
    assert best == {"learning_rate": 0.001, "weight_decay": 4e-5}   # two steps down, still an end: flagged
    base = len(exp_transfer.search_grid("random"))
    assert [lr for _, lr, _ in measured[base:]] == [0.003, 0.003, 0.001, 0.001]
    folder = tmp_path / "data" / "cd_transfer" / "search" / "t" / "n100" / "random"
    stored = exp_transfer.common.stored_points(folder)
    assert [p["hp"]["learning_rate"] for p in stored[base:]] == [0.003, 0.003, 0.001, 0.001]
    assert [p["hp"]["weight_decay"] for p in stored[base:]] == list(exp_transfer.WD_GRID) * 2
    measured.clear()
    assert exp_transfer.searched_lr("t", "dev", "random", 100) == best and not measured
    assert not (folder / "superseded").exists()
    assert exp_transfer.searched_lr("t", "dev", "finetune", 100)["learning_rate"] == 0.03
    assert len(measured) == len(exp_transfer.search_grid("finetune"))   # inside: nothing added


def test_lr_beyond_edge_follows_the_ladder_and_stops_at_its_ends(exp_transfer):
    grid = [{"learning_rate": lr, "weight_decay": 4e-5} for lr in (0.01, 0.03, 0.1)]
    beyond = exp_transfer.common.lr_beyond_edge
    assert beyond(grid, grid[0], exp_transfer.LR_LADDER) == 0.003
    assert beyond(grid, grid[2], exp_transfer.LR_LADDER) == 0.3
    assert beyond(grid, grid[1], exp_transfer.LR_LADDER) is None
    assert beyond(grid[:2], grid[0], exp_transfer.LR_LADDER) is None          # two values: no edge to speak of
    top = [{"learning_rate": lr, "weight_decay": 0} for lr in exp_transfer.LR_LADDER[-3:]]
    assert beyond(top, top[-1], exp_transfer.LR_LADDER) is None               # past the ladder's end
    for regime in ("finetune", "random"):
        assert {p["learning_rate"] for p in exp_transfer.search_grid(regime)} <= set(exp_transfer.LR_LADDER)


def test_a_claim_waits_while_an_arms_lr_search_still_grows_past_its_chosen_end(tmp_path, exp_transfer):
    """Random init chosen at its grid's lowest LR: the ladder's next LR is still to be measured, so
    its finals may be of a recipe the finished search will not choose and (c) reads pending; once
    the growth is measured (and loses), the verdict is back."""
    _synthetic(tmp_path / "data", exp_transfer)
    search = tmp_path / "data" / "cd_transfer" / "search" / "fashion_mnist" / "n100" / "random"
    grid = exp_transfer.search_grid("random")
    lowest = min(range(len(grid)), key=lambda i: grid[i]["learning_rate"])
    _write(search / f"point{lowest}.json", {"hp": grid[lowest], "top1": 0.95})
    claim = "(c) ImageNet pretraining beats random init"

    def rows():
        out = exp_transfer.section(tmp_path / "data")
        return {r["claim"].split(" (")[0]: r for r in out["verdicts"]}, out["markdown"]

    verdicts, md = rows()
    assert verdicts[claim]["verdict"] == "pending" and "random LR search is still running" in verdicts[claim]["effect"]
    assert "| fashion_mnist | 100 | random |" in md and "search still running" in md
    assert verdicts["(d) fine-tuning beats fixed features"]["verdict"] == "reproduced"   # its searches finished
    for index, hp in enumerate(exp_transfer.lr_points(0.003), start=len(grid)):
        _write(search / f"point{index}.json", {"hp": hp, "top1": 0.9})
    verdicts, md = rows()
    assert verdicts[claim]["verdict"] == "reproduced" and "search still running" not in md
    _write(search / f"point{len(grid) + 1}.json", {"hp": {"learning_rate": 0.003, "weight_decay": 0.0}, "top1": 0.9})
    assert rows()[0][claim]["verdict"] == "pending"       # a grown point measured for other settings


def test_searches_of_a_protocol_before_the_rule_never_wait(tmp_path, exp_transfer, transfer_report):
    _synthetic(tmp_path / "data", exp_transfer)
    proto = {k: v for k, v in exp_transfer.protocol().items() if k not in ("max_edge_steps", "search_grids")}
    assert transfer_report.unfinished_searches(tmp_path / "data", proto) == set()
    proto = {k: v for k, v in exp_transfer.protocol().items() if k != "search_grids"}   # derived start grid
    assert transfer_report.unfinished_searches(tmp_path / "data", proto) == set()
    assert "grown, by the same rule for both regimes" in exp_transfer.section(Path("/nonexistent"))["markdown"]

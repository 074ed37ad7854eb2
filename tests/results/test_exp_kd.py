"""(b) knowledge distillation at tiny size: the script runs end to end on real images (teacher on
the dev split, logits through kd.extract_logits, both students), resumes without recomputing, and
its section and verdict row come from the stored JSON only."""

from __future__ import annotations

import json

import pytest

from results_testlib import fake_training, import_script, load, make_data_root, run_script, tiny_env


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("exp_kd")
    env = tiny_env(tmp_path, make_data_root(tmp_path / "data"))
    first = run_script("exp_kd.py", env, "--seeds", "0")   # one seed keeps the test short
    return tmp_path, env, first


def test_teacher_logits_and_students_are_stored_with_their_data(finished):
    tmp_path, _, first = finished
    out = tmp_path / "results" / "data" / "b_kd"
    teacher = load(out / "teacher.json")
    assert "/dev/" in teacher["settings"]["data"]["data_dir"]          # trained on dev-train only
    assert 0.0 <= teacher["validation"]["top1"] <= 1 and teacher["test"]["num_examples"] == 200
    assert load(out / "logits_dev.json")["kd_info"]["count"] == 200    # 160 dev-train + 40 held out
    assert load(out / "logits_full.json")["kd_info"]["count"] == 400   # 200 train + 200 test (tiny)
    no_kd = load(out / "search" / "no_kd" / "point0.json")
    kd = load(out / "search" / "kd" / "point0.json")
    assert no_kd["hp"] == {"learning_rate": 0.05} and no_kd["settings"]["data"]["kd_temp"] == 0
    assert kd["hp"] == {"learning_rate": 0.05, "kd_temp": 1.0, "kd_weight": 0.5}
    assert kd["settings"]["data"]["kd_weight"] == 0.5 and kd["settings"]["data"]["data_dir"].endswith("logits/dev")
    final = load(out / "kd" / "seed0.json")
    assert final["hp"] == kd["hp"] and final["settings"]["data"]["data_dir"].endswith("logits/full")
    assert load(out / "no_kd" / "seed0.json")["settings"]["data"]["data_dir"].endswith("fashion_mnist")
    assert not (out / "kd" / "seed1.json").exists()
    assert "[b] kd seed0: test top1=" in first.stdout


def test_a_second_run_reads_the_stored_results_and_trains_nothing(finished):
    tmp_path, env, _ = finished
    stored = {p: p.stat().st_mtime_ns for p in (tmp_path / "results").rglob("*.json")}
    second = run_script("exp_kd.py", env, "--seeds", "0")
    assert "eval at step" not in second.stdout + second.stderr and "train:" not in second.stderr
    assert "[b] kd seed0: test top1=" in second.stdout
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "results").rglob("*.json")} == stored


def test_section_of_the_run(finished, monkeypatch):
    tmp_path, _, _ = finished
    exp = import_script("exp_kd")
    monkeypatch.setattr(exp.common, "TINY", True)
    monkeypatch.setattr(exp.common, "SEEDS", (0,))
    section = exp.section(tmp_path / "results" / "data")
    assert "Cells measured: 5 of 5." in section["markdown"]
    assert "| student + KD | kd_temp 1, kd_weight 0.5, learning_rate 0.05 | 1 |" in section["markdown"]
    [row] = section["verdicts"]
    weak = "did not hold" in section["markdown"]    # a 4-step teacher is rarely 2 points better
    assert row["interval"]["n"] == 1
    assert row["verdict"] == ("invalid: the teacher is not 2 points stronger" if weak else "inconclusive")


def write(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


def synthetic(root, teacher_top1=0.93, kd_seeds=(0, 1, 2)):
    out = root / "b_kd"
    write(out / "teacher.json", {"validation": {"top1": teacher_top1}, "test": {"top1": teacher_top1}})
    for i, lr in enumerate((0.05, 0.1, 0.2, 0.4)):
        write(out / "search" / "no_kd" / f"point{i}.json", {"hp": {"learning_rate": lr}, "top1": 0.88 + i / 100})
    # 0.4, the grid's end, won: the grid grew by the ladder's next LR, which scored lower
    write(out / "search" / "no_kd" / "point4.json", {"hp": {"learning_rate": 0.8}, "top1": 0.90})
    for i, (t, w) in enumerate(((1, 0.5), (1, 2), (4, 0.5), (4, 2))):
        write(out / "search" / "kd" / f"point{i}.json",
              {"hp": {"learning_rate": 0.4, "kd_temp": t, "kd_weight": w}, "top1": 0.90 + (i == 2) / 100})
    for seed, (a, b) in enumerate(((0.89, 0.90), (0.90, 0.92), (0.90, 0.93))):
        write(out / "no_kd" / f"seed{seed}.json", {"seed": seed, "hp": {"learning_rate": 0.4}, "test": {"top1": a}})
        if seed in kd_seeds:
            write(out / "kd" / f"seed{seed}.json", {"seed": seed, "hp": {"learning_rate": 0.4, "kd_temp": 4,
                                                                         "kd_weight": 0.5}, "test": {"top1": b}})


def test_a_final_of_an_earlier_recipe_is_kept_aside_and_re_run_in_its_own_model_dir(tmp_path, monkeypatch):
    exp, model_dirs = fake_training("exp_kd", tmp_path, monkeypatch)
    exp.final_cell("no_kd", "d", 1, {"learning_rate": 0.4})
    exp.final_cell("no_kd", "d", 1, {"learning_rate": 0.4})       # stored: nothing trains
    assert exp.final_cell("no_kd", "d", 1, {"learning_rate": 0.8})["test"]["top1"] == 0.8
    assert len(model_dirs) == 2 and model_dirs[0] != model_dirs[1]
    assert len(list((tmp_path / "data" / exp.OUT / "no_kd" / "superseded").glob("seed1.*.json"))) == 1


def test_verdict_is_the_paired_interval_over_seeds(tmp_path):
    from scipy import stats

    exp = import_script("exp_kd")
    assert exp.common.SEEDS == (0, 1, 2) and not exp.common.TINY
    synthetic(tmp_path)
    section = exp.section(tmp_path)
    [row] = section["verdicts"]
    half = stats.t.ppf(0.975, 2) * 0.01 / 3 ** 0.5           # differences 0.01, 0.02, 0.03
    assert row["interval"]["mean"] == pytest.approx(0.02)
    assert (row["interval"]["low"], row["interval"]["high"]) == pytest.approx((0.02 - half, 0.02 + half))
    assert row["verdict"] == "inconclusive" and row["effect"].startswith("+2.00 [")
    markdown = section["markdown"]
    assert "Cells measured: 16 of 16." in markdown and "condition **held**" in markdown
    assert "| 0.4 | 4 | 0.5 | 91.00 | **yes** |" in markdown and "| 0.4 | 91.00 | **yes** |" in markdown
    assert "| student + KD | learning_rate 0.4, kd_temp 4, kd_weight 0.5 | 3 | 91.67 ± 1.53 |" in markdown


def test_missing_cells_are_pending_and_a_weak_teacher_is_reported(tmp_path):
    exp = import_script("exp_kd")
    synthetic(tmp_path, teacher_top1=0.91, kd_seeds=(0, 1))
    section = exp.section(tmp_path)
    [row] = section["verdicts"]
    assert row["verdict"] == "pending" and row["interval"] is None and "2 of 3" in row["effect"]
    assert "Cells measured: 15 of 16." in section["markdown"] and "did not hold" in section["markdown"]
    empty = exp.section(tmp_path / "nothing")
    assert empty["verdicts"][0]["verdict"] == "pending" and "Cells measured: 0 of 15." in empty["markdown"]


def test_a_teacher_less_than_two_points_stronger_gets_no_verdict(tmp_path):
    exp = import_script("exp_kd")
    synthetic(tmp_path, teacher_top1=0.905)     # students: 0.88-0.91 on validation
    [row] = exp.section(tmp_path)["verdicts"]
    assert row["interval"]["n"] == 3 and row["verdict"] == "invalid: the teacher is not 2 points stronger"

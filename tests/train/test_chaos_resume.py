"""Three SIGKILLs of one deterministic run (during a step, a checkpoint write and an evaluation):
the final checkpoint equals an uninterrupted run's and no file is corrupt or duplicated.
The 20-kill version is benchmarks/chaos_resume.py (figures in the README)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import chaos_resume  # noqa: E402


@pytest.mark.slow
def test_three_kills_at_a_step_a_checkpoint_write_and_an_evaluation_then_resume_exactly(tmp_path):
    result = chaos_resume.run_chaos(tmp_path, kills=3, epochs=2, seed=0, log=lambda *_: None)
    kinds = {k["kind"]: k["hit"] for k in result["kills"]}
    assert kinds == {"step": True, "checkpoint": True, "evaluation": True}, result["kills"]
    assert all(k["latest_after"] >= k["resumed_from"] for k in result["kills"])
    checks = result["checks"]
    assert checks["final_step"] == 16 and checks["variables"] > 100
    assert checks["variables_differing"] == []  # bit-identical to the uninterrupted run
    assert checks["metrics_duplicates"] == 0 and checks["metrics_same_keys_as_reference"]
    assert checks["best_equal_to_reference"] and checks["best_stray_files"] == []
    assert checks["unloadable"] == [] and not any(k["unloadable"] for k in result["kills"])

"""device_run.sh, the one device command of a GPU session: the tiny plan gates the full one, a
failing JAX tiny plan falls back to torch, and the full plan gets what is left of the total box.
A stand-in for gpu_results.sh records each call and fails the backends it is told to."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from results_testlib import SCRIPTS

DEVICE_RUN = SCRIPTS / "gpu" / "device_run.sh"
STAND_IN = """#!/usr/bin/env bash
# args: [--tiny] --out DIR --work W
tiny=0; [[ "$1" == --tiny ]] && { tiny=1; shift; }
out="$2"; mkdir -p "$out"
echo "$KERAS_BACKEND tiny=$tiny budget=$GPU_RESULTS_BUDGET_S" >> "$CALLS"
failed='{"c_fixed": "stopped at the 100 s budget"}'
[[ " $FAIL_BACKENDS " == *" $KERAS_BACKEND "* ]] && failed='{"a_vanilla_s0": "exit 1: boom"}'
[[ -n "${SKIP_WRITE:-}" ]] && exit 1
plan='[{"name": "a_vanilla_s0", "kind": "assembled"}, {"name": "c_fixed", "kind": "fixed"}]'
trained='"a_vanilla_s0": {"test_top1": 0.1},'
[[ -n "${NO_A:-}" ]] && trained=''
echo "{$trained \\"_failed\\": $failed, \\"_plan\\": $plan, \\"_not_started\\": [\\"c_random\\"], \\"_wall_s\\": 3}" \\
  > "$out/gpu_results.json"
"""


def run_device(tmp_path: Path, fail: str = "", **env) -> tuple[subprocess.CompletedProcess, list[str]]:
    stand_in = tmp_path / "plan.sh"
    stand_in.write_text(STAND_IN)
    calls = tmp_path / "calls.txt"
    environment = {**os.environ, "OUT": str(tmp_path / "out"), "GPU_RESULTS_SH": str(stand_in),
                   "CALLS": str(calls), "FAIL_BACKENDS": fail, **env}
    environment.pop("KERAS_BACKEND", None)
    environment.update(env)
    done = subprocess.run(["bash", str(DEVICE_RUN)], env=environment, capture_output=True, text=True, timeout=60)
    return done, calls.read_text().splitlines() if calls.exists() else []


def test_a_passing_jax_smoke_runs_the_full_plan_on_jax_within_the_total_box(tmp_path):
    done, calls = run_device(tmp_path, TOTAL_BUDGET_S="400")
    assert done.returncode == 0, done.stdout + done.stderr
    assert calls[0] == "jax tiny=1 budget=100" and calls[1].startswith("jax tiny=0 budget=")
    assert 365 <= int(calls[1].split("=")[-1]) <= 375   # the box less the smoke's seconds and 25 s of setup
    assert "smoke (jax): ok (3 s; 1 stopped by the box, 1 not started)" in done.stdout


def test_a_failing_jax_smoke_falls_back_to_torch_and_keeps_the_failed_record(tmp_path):
    done, calls = run_device(tmp_path, fail="jax")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [c.split(" budget")[0] for c in calls] == ["jax tiny=1", "torch tiny=1", "torch tiny=0"]
    assert "smoke (jax): FAILED a_vanilla_s0" in done.stdout
    assert "a_vanilla_s0" in json.loads((tmp_path / "out" / "tiny_jax" / "gpu_results.json").read_text())["_failed"]
    assert "a_vanilla_s0" not in json.loads((tmp_path / "out" / "tiny" / "gpu_results.json").read_text())["_failed"]


@pytest.mark.parametrize("env", [{"fail": "jax torch"}, {"fail": "torch", "KERAS_BACKEND": "torch"},
                                 {"SKIP_WRITE": "1"}, {"fail": "torch", "NO_A": "1"}])
def test_no_full_plan_when_every_smoke_failed(tmp_path, env):
    done, calls = run_device(tmp_path, **env)
    assert done.returncode == 1
    assert all("tiny=1" in c for c in calls) and calls
    assert "FAILED" in done.stdout


def test_the_full_plan_is_skipped_when_the_box_has_no_room_left(tmp_path):
    done, calls = run_device(tmp_path, TOTAL_BUDGET_S="100")
    assert done.returncode == 1
    assert calls == ["jax tiny=1 budget=100"]
    assert "full plan skipped" in done.stdout


def test_a_second_run_in_the_same_out_is_judged_on_its_own_files(tmp_path):
    first, _ = run_device(tmp_path, fail="jax")                 # leaves tiny/, tiny_jax/, gpu_results.json
    assert first.returncode == 0
    (tmp_path / "calls.txt").unlink()
    second, calls = run_device(tmp_path, SKIP_WRITE="1")        # this time every plan exits 1, writing nothing
    assert second.returncode == 1
    assert "smoke (jax): FAILED, the plan exited 1" in second.stdout and "): ok" not in second.stdout
    assert [c.split(" budget")[0] for c in calls] == ["jax tiny=1", "torch tiny=1"]
    out = tmp_path / "out"
    assert not (out / "gpu_results.json").exists() and not (out / "tiny_jax" / "tiny").exists()
    third, _ = run_device(tmp_path)                             # jax passes: no failed smoke of an earlier run left
    assert third.returncode == 0 and not (out / "tiny_jax").exists()


def test_after_two_smokes_the_full_box_is_what_is_left_less_the_setup_allowance(tmp_path):
    done, calls = run_device(tmp_path, fail="jax", TOTAL_BUDGET_S="300")
    assert done.returncode == 0
    assert calls[-1].startswith("torch tiny=0") and 270 <= int(calls[-1].split("=")[-1]) <= 275

"""scripts/results/run_all.sh: a failing step is logged and the queue goes on; the script exits
1 at the end naming it (a 3-hour queue must not stop at its first broken experiment)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "results" / "run_all.sh"


def test_a_failing_step_does_not_stop_the_queue(tmp_path):
    calls = tmp_path / "calls.txt"
    fake = tmp_path / "python"
    fake.write_text(f'#!/usr/bin/env bash\necho "$*" >> {calls}\n[[ "$1" == *exp_kd.py ]] && exit 3\nexit 0\n')
    fake.chmod(0o755)
    env = {**os.environ, "PYTHON": str(fake), "RUNS_DIR": str(tmp_path / "runs")}
    run = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    steps = calls.read_text().splitlines()
    assert run.returncode == 1 and "[run_all] failed: exp_kd" in run.stderr
    assert steps[-1] == "scripts/results/make_report.py"  # the report is still written
    assert any(s.startswith("scripts/results/exp_transfer.py") for s in steps[steps.index("scripts/results/exp_kd.py"):])
    wall = (tmp_path / "runs" / "wall_times.txt").read_text()
    assert "exp_kd : " in wall and "exit 3" in wall and wall.count("exit 0") == len(steps) - 2

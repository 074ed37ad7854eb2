#!/usr/bin/env bash
# The whole results suite (docs/results.md): every experiment, then the report.
# Resumable: finished runs are JSON files under $RESULTS_DIR (default runs/results) and are skipped.
#   nohup scripts/results/run_all.sh > runs/results/log_all.txt 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
mkdir -p "${RESULTS_DIR:-runs/results}"
for step in exp_assembled exp_kd exp_transfer exp_fixres; do
  start=$(date +%s)
  "$PY" "scripts/results/$step.py"
  echo "[run_all] $step: $(( $(date +%s) - start )) s" | tee -a "${RESULTS_DIR:-runs/results}/wall_times.txt"
done
"$PY" scripts/results/make_report.py

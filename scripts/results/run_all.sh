#!/usr/bin/env bash
# The whole results suite (docs/results.md): every experiment in priority order, then the report.
# Resumable: finished runs are JSON files under $RESULTS_DIR (default docs/results/data) and are
# skipped; a killed training resumes from its checkpoint under $RUNS_DIR (default runs/results).
#   nohup scripts/results/run_all.sh > runs/results/log_all.txt 2>&1 &
# Each step's wall time is appended to $RUNS_DIR/wall_times.txt (the page sums the stored runs' own
# wall times instead, so reruns that only read JSON do not count).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-.venv/bin/python}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
RUNS=${RUNS_DIR:-runs/results}
mkdir -p "$RUNS"
FAILED=()
# A step that fails is logged and the queue goes on (the others' results still count); the
# script exits 1 at the end, naming it.
step() {
  local start status=0; start=$(date +%s)
  "$PY" "scripts/results/$1.py" "${@:2}" || status=$?
  echo "[run_all] $* : $(( $(date +%s) - start )) s, exit $status" | tee -a "$RUNS/wall_times.txt"
  if (( status != 0 )); then FAILED+=("$*"); fi
}
step exp_fixres                                               # (e): nearly done, short
step exp_assembled --datasets fashion_mnist --no_ablation     # (a) at the demo's 56 px
step exp_assembled --datasets fashion_mnist --convergence_only   # does (a)'s budget converge?
TRANSFER_STAGES=fixed step exp_transfer                       # fixed features: cheap, all targets
step exp_kd
TRANSFER_STAGES=finetune,random,aux TRANSFER_TARGETS=fashion_mnist step exp_transfer
TRANSFER_STAGES=finetune,random TRANSFER_TARGETS=sklearn_digits step exp_transfer   # a 2nd trained target, small
step exp_transfer_models                                      # (c) Lite0/1/2 fixed features, all targets
step exp_assembled --datasets fashion_mnist --long_finals   # (a) again at 16 epochs, where validation still rose
step exp_assembled --ablation_only --ablation_arms plus_autoaugment,plus_mixup,plus_network,plus_dropblock,plus_smoothing   # (a) ablation, with mCE; the likeliest sources of robustness first
TRANSFER_SIZES=100 step exp_transfer                          # MNIST (c, d) at the verdicts' size (~1.5 h)
step exp_assembled --datasets mnist --no_ablation             # ~2.3 h
step exp_transfer                                             # the rest: MNIST (c, d) at 10 per class
"$PY" scripts/results/make_report.py
if (( ${#FAILED[@]} )); then
  printf '[run_all] failed: %s\n' "${FAILED[@]}" >&2
  exit 1
fi

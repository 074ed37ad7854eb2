#!/usr/bin/env bash
# The whole device-tool command of a GPU session (run it with carry [".gpu_carry"], timeout ~590 s):
# the plan at tiny sizes first (~100 s box), then, only if none of its jobs failed, the full plan in
# what is left of TOTAL_BUDGET_S. The JAX backend (one compiled step) has not run on a GPU before:
# if its tiny plan fails, the tiny plan runs again on the torch backend (eager; slower, but it ran on
# the 2026-11-29 H200) and the full plan uses whichever backend passed.
#   run: bash scripts/results/gpu/device_run.sh          (KERAS_BACKEND=torch to start with torch)
# Then, here: python scripts/results/gpu/collect_device_run.py --name <gpu>_<date> --full <files_at>
#   --smoke <files_at>/tiny   and python scripts/results/make_report.py.
set -uo pipefail
cd "$(dirname "$0")/../../.."
OUT="${OUT:-runs/gpu_results}"
TOTAL_BUDGET_S="${TOTAL_BUDGET_S:-560}"   # smoke(s) + full; the device command's timeout is ~590 s
START=$(date +%s)
PLAN_SH="${GPU_RESULTS_SH:-scripts/results/gpu/gpu_results.sh}"   # the tests put a stand-in here

# an earlier run's files in the same OUT must not speak for this one
rm -rf "$OUT"/tiny "$OUT"/tiny_* "$OUT"/console_tiny_*.txt "$OUT"/console.txt "$OUT"/gpu_results.json "$OUT"/gpu_jobs.log
mkdir -p "$OUT"

smoke() {   # the tiny plan on backend $1; exit 0 when it ran and none of its jobs ended in an error
  mkdir -p "$OUT/tiny"
  KERAS_BACKEND="$1" GPU_RESULTS_BUDGET_S="${SMOKE_BUDGET_S:-100}" bash "$PLAN_SH" --tiny \
      --out "$OUT/tiny" --work "/tmp/gpu_results_tiny_$1" 2>&1 | tee "$OUT/console_tiny_$1.txt" | tail -5
  local plan_status=${PIPESTATUS[0]}
  if (( plan_status != 0 )); then echo "smoke ($1): FAILED, the plan exited $plan_status"; return 1; fi
  python3 scripts/results/gpu/smoke_verdict.py "$OUT/tiny/gpu_results.json" "$1"
}

BACKEND="${KERAS_BACKEND:-jax}"
if ! smoke "$BACKEND"; then
  [[ "$BACKEND" == torch ]] && exit 1
  mv "$OUT/tiny" "$OUT/tiny_$BACKEND"   # kept for the record; the page reads the tiny plan that passed
  BACKEND=torch
  smoke torch || exit 1
fi
# the full plan's own start (wheels, imports) and end (its logs) lie outside its box: 25 s for them
LEFT=$(( TOTAL_BUDGET_S - ($(date +%s) - START) - 25 ))
FULL=$(( LEFT < ${FULL_BUDGET_S:-450} ? LEFT : ${FULL_BUDGET_S:-450} ))
echo "full plan on $BACKEND, box $FULL s"
(( FULL >= 120 )) || { echo "full plan skipped: only $FULL s left of $TOTAL_BUDGET_S"; exit 1; }
KERAS_BACKEND="$BACKEND" GPU_RESULTS_BUDGET_S="$FULL" bash "$PLAN_SH" --out "$OUT" \
    --work /tmp/gpu_results_full 2>&1 | tee "$OUT/console.txt"

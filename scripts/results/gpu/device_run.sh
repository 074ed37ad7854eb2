#!/usr/bin/env bash
# The whole device-tool command of a GPU session (run it with carry [".gpu_carry"], timeout ~590 s):
# the plan at tiny sizes first (~100 s box), then, only if none of its jobs failed, the full plan.
#   run: bash scripts/results/gpu/device_run.sh          (KERAS_BACKEND=torch for the eager path)
# Then, here: python scripts/results/gpu/collect_device_run.py --name <gpu>_<date> --full <files_at>
#   --smoke <files_at>/tiny   and python scripts/results/make_report.py.
set -uo pipefail
cd "$(dirname "$0")/../../.."
OUT="${OUT:-runs/gpu_results}"
mkdir -p "$OUT/tiny"
GPU_RESULTS_BUDGET_S="${SMOKE_BUDGET_S:-100}" bash scripts/results/gpu/gpu_results.sh --tiny --out "$OUT/tiny" \
    --work /tmp/gpu_results_tiny 2>&1 | tee "$OUT/console_tiny.txt" | tail -5
python3 - "$OUT/tiny/gpu_results.json" <<'PY' || exit 1
import json, sys
results = json.load(open(sys.argv[1]))
print("smoke:", "FAILED " + ", ".join(results["_failed"]) if results["_failed"] else "ok", f"({results['_wall_s']:.0f} s)")
sys.exit(1 if results["_failed"] else 0)
PY
GPU_RESULTS_BUDGET_S="${FULL_BUDGET_S:-450}" bash scripts/results/gpu/gpu_results.sh --out "$OUT" \
    --work /tmp/gpu_results_full 2>&1 | tee "$OUT/console.txt"

#!/usr/bin/env bash
# The prepared GPU check (≤ 8 min on one GPU): gpu-marked tests, model img/s under fp16/bf16 with both
# conv paths against keras.applications.ResNet50, input pipeline, corruptions, demo. See docs/models.md.
#   benchmarks/gpu_check.sh                  # on the GPU machine; results in $OUT (or benchmarks/results/gpu_check)
#   benchmarks/gpu_check.sh --tiny           # the same on the CPU at tiny sizes (GPU_CHECK_TINY=1 does the same)
# Other options are gpu_check.py's: --budget_s, --parts, --demo_data_dir, --demo_epochs, --out.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
exec timeout "${GPU_CHECK_TIMEOUT_S:-480}" "$PYTHON" benchmarks/gpu_check.py "$@"

#!/usr/bin/env bash
# (a) and (c) at a larger scale on the lent GPU (device tool), in one command of at most ~9 min:
#   device run: bash scripts/results/gpu/gpu_results.sh      (carry: .gpu_carry)
# The machine has PyTorch, torchvision, JAX and scikit-learn but no TensorFlow and no Keras: Keras 3 and
# the reference corruptions travel as wheels in .gpu_carry/whl (scripts/results/gpu/prepare_carry.sh).
set -euo pipefail
cd "$(dirname "$0")/../../.."
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu_carry/whl/*.whl
# KERAS_BACKEND=jax (default): one compiled step per network; torch: the eager loop (overhead-bound)
# REQUIRE_GPU: a job whose backend sees no GPU stops at once (gpu_jobs.accelerator) instead of training on the CPU
export PYTHONPATH=/tmp/site KERAS_BACKEND="${KERAS_BACKEND:-jax}" PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false \
    REQUIRE_GPU="${REQUIRE_GPU:-1}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
exec python3 scripts/results/gpu/run_gpu_results.py --out "${OUT:-runs/gpu_results}" --carry .gpu_carry \
    --budget_s "${GPU_RESULTS_BUDGET_S:-470}" "$@"

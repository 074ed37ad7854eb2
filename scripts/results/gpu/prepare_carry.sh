#!/usr/bin/env bash
# Fill .gpu_carry/ (git-ignored through .git/info/exclude) with what the GPU machine lacks:
# Fashion-MNIST's idx files, EfficientNet-Lite0's ImageNet .pth, and Python 3.12 wheels of Keras 3
# (+ optree, namex) and imagecorruptions. About 53 MB, under the device tool's 64 MiB per call.
set -euo pipefail
cd "$(dirname "$0")/../../.."
PYTHON="${PYTHON:-.venv/bin/python}"
grep -qx "/.gpu_carry/" .git/info/exclude 2>/dev/null || echo "/.gpu_carry/" >> .git/info/exclude
mkdir -p .gpu_carry/whl
"$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .gpu_carry/whl keras==3.15.1 optree==0.20.0 namex==0.1.0 imagecorruptions-imaug==1.1.5
"$PYTHON" - <<'PY'
import shutil
from pathlib import Path
from assembled_cnn.datasets.fetch import cache_dir
from assembled_cnn.weights.efficientnet_lite import fetch_efficientnet_lite
pth = Path(fetch_efficientnet_lite(0))
shutil.copy(pth, Path(".gpu_carry") / pth.name)
for gz in (cache_dir() / "fashion_mnist").rglob("*-ubyte.gz"):
    shutil.copy(gz, Path(".gpu_carry") / gz.name)
PY
du -sh .gpu_carry

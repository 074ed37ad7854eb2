#!/usr/bin/env bash
# MobileNet-V1 on ImageNet: M3 of the paper's MobileNet ladder (reference doc §6.7: label
# smoothing + mixup, 200 epochs, 73.54 top-1). The M0 recipe (train_mobilenet_v1_m0.sh: the
# paper's training details as the original scripts/train_vanila_from_scratch.sh uses them) plus
# label smoothing 0.1 and mixup type 1 (alpha 0.2), as the original's assemble recipe sets them.
#
# Environment: as train_mobilenet_v1_m0.sh, with MODEL_DIR [runs/mobilenet_v1_m3] and
# TRAIN_EPOCHS [200].
set -euo pipefail

export MODEL_DIR="${MODEL_DIR:-runs/mobilenet_v1_m3}"
export TRAIN_EPOCHS="${TRAIN_EPOCHS:-200}"

exec bash "$(dirname "${BASH_SOURCE[0]}")/train_mobilenet_v1_m0.sh" \
  --label_smoothing=0.1 \
  --mixup_type=1 \
  "$@"

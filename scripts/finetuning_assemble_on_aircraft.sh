#!/usr/bin/env bash
# Fine-tune Assemble-ResNet-FGVC-50 on FGVC Aircraft (fgvc_aircraft).
# The paper's transfer recipe (reference doc §6.5, Table 9 and Table 13): the settings of the
# original scripts/finetuning_assemble_on_food101.sh (Assemble-ResNet-50 from ImageNet, batch 256,
# peak LR 0.01, warm-up 5 + cosine, weight decay 1e-3, bn_momentum 0.966, DropBlock 0.9 -> 0.7,
# mixup, AutoAugment `good`, label smoothing 0.1, ratio_fine_eval 0.9) with Table 13's
# 800 epochs; evaluation every 80 epochs (every 10 % of training, as Food-101's 10 of 100).
# Paper: FGVC Aircraft top-1 92.4 (ResNet-50: 78.8).
#
# Environment: as finetuning_assemble_on_food101.sh, with DATASET [fgvc_aircraft], DATA_DIR [data/fgvc_aircraft],
# MODEL_DIR [runs/assemble_resnet50_fgvc_aircraft], TRAIN_EPOCHS [800], EPOCHS_BETWEEN_EVALS [80].
set -euo pipefail

export DATASET="${DATASET:-fgvc_aircraft}"
export DATA_DIR="${DATA_DIR:-data/fgvc_aircraft}"
export MODEL_DIR="${MODEL_DIR:-runs/assemble_resnet50_fgvc_aircraft}"
export TRAIN_EPOCHS="${TRAIN_EPOCHS:-800}"
EPOCHS_BETWEEN_EVALS="${EPOCHS_BETWEEN_EVALS:-80}"

exec bash "$(dirname "${BASH_SOURCE[0]}")/finetuning_assemble_on_food101.sh" \
  --epochs_between_evals="${EPOCHS_BETWEEN_EVALS}" \
  "$@"

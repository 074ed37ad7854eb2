#!/usr/bin/env bash
# Fine-tune Assemble-ResNet-FGVC-50 on Stanford Cars (stanford_cars).
# The paper's transfer recipe (reference doc §6.5, Table 9 and Table 13): the settings of the
# original scripts/finetuning_assemble_on_food101.sh (Assemble-ResNet-50 from ImageNet, batch 256,
# peak LR 0.01, warm-up 5 + cosine, weight decay 1e-3, bn_momentum 0.966, DropBlock 0.9 -> 0.7,
# mixup, AutoAugment `good`, label smoothing 0.1, ratio_fine_eval 0.9) with Table 13's
# 1000 epochs; evaluation every 100 epochs (every 10 % of training, as Food-101's 10 of 100).
# Paper: Stanford Cars top-1 94.4 (ResNet-50: 89.1).
#
# Environment: as finetuning_assemble_on_food101.sh, with DATASET [stanford_cars], DATA_DIR [data/stanford_cars],
# MODEL_DIR [runs/assemble_resnet50_stanford_cars], TRAIN_EPOCHS [1000], EPOCHS_BETWEEN_EVALS [100].
set -euo pipefail

export DATASET="${DATASET:-stanford_cars}"
export DATA_DIR="${DATA_DIR:-data/stanford_cars}"
export MODEL_DIR="${MODEL_DIR:-runs/assemble_resnet50_stanford_cars}"
export TRAIN_EPOCHS="${TRAIN_EPOCHS:-1000}"
EPOCHS_BETWEEN_EVALS="${EPOCHS_BETWEEN_EVALS:-100}"

exec bash "$(dirname "${BASH_SOURCE[0]}")/finetuning_assemble_on_food101.sh" \
  --epochs_between_evals="${EPOCHS_BETWEEN_EVALS}" \
  "$@"

#!/usr/bin/env bash
# Fine-tune Assemble-ResNet-FGVC-50 on Oxford Flowers-102 (oxford_flowers102).
# The paper's transfer recipe (reference doc §6.5, Table 9 and Table 13): the settings of the
# original scripts/finetuning_assemble_on_food101.sh (Assemble-ResNet-50 from ImageNet, batch 256,
# peak LR 0.01, warm-up 5 + cosine, weight decay 1e-3, bn_momentum 0.966, DropBlock 0.9 -> 0.7,
# mixup, AutoAugment `good`, label smoothing 0.1, ratio_fine_eval 0.9) with Table 13's
# 1000 epochs; evaluation every 100 epochs (every 10 % of training, as Food-101's 10 of 100).
# Paper: Oxford Flowers top-1 98.9 (ResNet-50: 96.1).
#
# Environment: as finetuning_assemble_on_food101.sh, with DATASET [oxford_flowers102], DATA_DIR [data/oxford_flowers102],
# MODEL_DIR [runs/assemble_resnet50_oxford_flowers102], TRAIN_EPOCHS [1000], EPOCHS_BETWEEN_EVALS [100].
set -euo pipefail

export DATASET="${DATASET:-oxford_flowers102}"
export DATA_DIR="${DATA_DIR:-data/oxford_flowers102}"
export MODEL_DIR="${MODEL_DIR:-runs/assemble_resnet50_oxford_flowers102}"
export TRAIN_EPOCHS="${TRAIN_EPOCHS:-1000}"
EPOCHS_BETWEEN_EVALS="${EPOCHS_BETWEEN_EVALS:-100}"

exec bash "$(dirname "${BASH_SOURCE[0]}")/finetuning_assemble_on_food101.sh" \
  --epochs_between_evals="${EPOCHS_BETWEEN_EVALS}" \
  "$@"

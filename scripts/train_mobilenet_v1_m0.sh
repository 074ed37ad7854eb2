#!/usr/bin/env bash
# MobileNet-V1 on ImageNet: M0, the baseline of the paper's MobileNet ladder (reference doc §6.7:
# 72.59 top-1 after 120 epochs). The original repository ships no MobileNet code; the settings are
# the paper's training details (§6.8) as the original scripts/train_vanila_from_scratch.sh uses
# them: 8 GPUs, batch 1024, SGD momentum 0.9, peak LR 0.4, 5 linear warm-up epochs then cosine,
# weight decay 1e-4, mixed precision (fp16, loss scale 128), `imagenet` preprocessing, evaluation
# every 10 epochs. train_mobilenet_v1_m3.sh runs this one with LS + mixup for 200 epochs.
#
# Environment: DATA_DIR [data/imagenet]; MODEL_DIR [runs/mobilenet_v1_m0]; NUM_GPUS [8];
# BATCH_SIZE [1024]; TRAIN_EPOCHS [120]; MODE [train_and_eval]; DISTRIBUTION_STRATEGY [mirrored];
# PYTHON [python].
set -euo pipefail

DATA_DIR="${DATA_DIR:-data/imagenet}"
MODEL_DIR="${MODEL_DIR:-runs/mobilenet_v1_m0}"
NUM_GPUS="${NUM_GPUS:-8}"
BATCH_SIZE="${BATCH_SIZE:-1024}"
TRAIN_EPOCHS="${TRAIN_EPOCHS:-120}"
MODE="${MODE:-train_and_eval}"
DISTRIBUTION_STRATEGY="${DISTRIBUTION_STRATEGY:-mirrored}"
PYTHON="${PYTHON:-python}"

"${PYTHON}" main_classification.py \
  --mode="${MODE}" \
  --distribution_strategy="${DISTRIBUTION_STRATEGY}" \
  --num_gpus="${NUM_GPUS}" \
  --dataset_name=imagenet \
  --data_dir="${DATA_DIR}" \
  --model_dir="${MODEL_DIR}" \
  --preprocessing_type=imagenet \
  --model=mobilenet_v1 \
  --batch_size="${BATCH_SIZE}" \
  --train_epochs="${TRAIN_EPOCHS}" \
  --epochs_between_evals=10 \
  --learning_rate_decay_type=cosine \
  --base_learning_rate=0.4 \
  --lr_warmup_epochs=5 \
  --momentum=0.9 \
  --weight_decay=1e-4 \
  --dtype=fp16 \
  --loss_scale=128 \
  "$@"

#!/usr/bin/env bash
# Vanilla ResNet-50 (v1.5) on ImageNet from scratch.
# Recipe of the original scripts/train_vanila_from_scratch.sh (reference doc §3.3): batch 1024 on
# 8 GPUs, SGD momentum 0.9, peak LR 0.4 (no linear scaling), 5 warm-up epochs then cosine to 0,
# weight decay 1e-4 (BN excluded), zero-gamma, fp16 with static loss scale 128, 120 epochs,
# evaluation every 5 epochs, `imagenet` preprocessing (train 224, eval resize 256 -> crop 224).
# The original also passed --data_format=channels_first; Keras 3 here is NHWC only.
#
# Environment (defaults in brackets): DATA_DIR [data/imagenet] ImageNet TFRecords (train-*,
# validation-*); MODEL_DIR [runs/vanila_resnet50]; NUM_GPUS [8]; BATCH_SIZE [1024];
# TRAIN_EPOCHS [120]; MODE [train_and_eval]; DISTRIBUTION_STRATEGY [mirrored]; PYTHON [python].
set -euo pipefail

DATA_DIR="${DATA_DIR:-data/imagenet}"
MODEL_DIR="${MODEL_DIR:-runs/vanila_resnet50}"
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
  --resnet_version=1 \
  --resnet_size=50 \
  --batch_size="${BATCH_SIZE}" \
  --train_epochs="${TRAIN_EPOCHS}" \
  --epochs_between_evals=5 \
  --learning_rate_decay_type=cosine \
  --base_learning_rate=0.4 \
  --lr_warmup_epochs=5 \
  --momentum=0.9 \
  --weight_decay=1e-4 \
  --zero_gamma=true \
  --dtype=fp16 \
  --loss_scale=128 \
  "$@"

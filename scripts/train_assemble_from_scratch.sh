#!/usr/bin/env bash
# Assemble-ResNet-50 on ImageNet from scratch (the released model).
# Recipe of the original scripts/train_assemble_from_scratch.sh (reference doc §0, §2.10, §3.3):
# Big-Little ResNet-50 (resnet_version=2, alpha 2, beta 4) + Selective Kernel + anti-aliasing
# (sconv, filter 3) + DropBlock (keep_prob 1.0 -> 0.9), use_resnet_d=False, zero-gamma;
# batch 1024 on 8 GPUs, SGD momentum 0.9, peak LR 0.4, 5 warm-up epochs then cosine, weight
# decay 1e-4, label smoothing 0.1, mixup type 1 (alpha 0.2), AutoAugment `imagenet`, knowledge
# distillation (T=1) from AmoebaNet-A logits stored in the TFRecords, fp16 (loss scale 128),
# 600 epochs, evaluation every 10 epochs, `imagenet_224_256` (train 224, eval 292 -> crop 256).
#
# Environment: DATA_DIR [data/imagenet_kd_amoebanet] TFRecords with image/logit (see
# assembled_cnn.kd); MODEL_DIR [runs/assemble_resnet50]; NUM_GPUS [8]; BATCH_SIZE [1024];
# TRAIN_EPOCHS [600]; MODE [train_and_eval]; DISTRIBUTION_STRATEGY [mirrored]; PYTHON [python].
set -euo pipefail

DATA_DIR="${DATA_DIR:-data/imagenet_kd_amoebanet}"
MODEL_DIR="${MODEL_DIR:-runs/assemble_resnet50}"
NUM_GPUS="${NUM_GPUS:-8}"
BATCH_SIZE="${BATCH_SIZE:-1024}"
TRAIN_EPOCHS="${TRAIN_EPOCHS:-600}"
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
  --preprocessing_type=imagenet_224_256 \
  --resnet_version=2 \
  --resnet_size=50 \
  --bl_alpha=2 \
  --bl_beta=4 \
  --use_resnet_d=false \
  --use_sk_block=true \
  --anti_alias_type=sconv \
  --anti_alias_filter_size=3 \
  --use_dropblock=true \
  --dropblock_kp=1.0,0.9 \
  --zero_gamma=true \
  --batch_size="${BATCH_SIZE}" \
  --train_epochs="${TRAIN_EPOCHS}" \
  --epochs_between_evals=10 \
  --learning_rate_decay_type=cosine \
  --base_learning_rate=0.4 \
  --lr_warmup_epochs=5 \
  --momentum=0.9 \
  --weight_decay=1e-4 \
  --label_smoothing=0.1 \
  --mixup_type=1 \
  --autoaugment_type=imagenet \
  --kd_temp=1 \
  --dtype=fp16 \
  --loss_scale=128 \
  "$@"

#!/usr/bin/env bash
# Evaluate a released (TF 1.14) Assemble-ResNet-50 checkpoint on ImageNet.
# Step 1 converts the original checkpoint into a TF2 model_dir (model_config.json + checkpoint);
# step 2 is the original's `main_classification.py --eval_only` (reference doc §1.5, §3.11) with
# the architecture flags of the released model (§2.10; they must match: the original's issue #4)
# and its eval preprocessing `imagenet_224_256` (resize 292 -> crop 256). The released model has
# 1001 classes (0 = background), so the dataset is `imagenet` (labels 1..1000 as stored).
# Use MODEL=assemble_resnet152 with PREPROCESSING_TYPE=imagenet_224_256a and BL_ALPHA=1 BL_BETA=2
# RESNET_SIZE=152 for the released Assemble-ResNet-152.
#
# Environment: TF1_CHECKPOINT [checkpoints/assemble_resnet50] original checkpoint dir or prefix;
# DATA_DIR [data/imagenet] TFRecords with validation-*; MODEL_DIR [runs/assemble_resnet50_tf1];
# MODEL [assemble_resnet50]; RESNET_SIZE [50]; BL_ALPHA [2]; BL_BETA [4];
# PREPROCESSING_TYPE [imagenet_224_256]; BATCH_SIZE [256]; NUM_GPUS [1];
# DISTRIBUTION_STRATEGY [mirrored]; PYTHON [python].
set -euo pipefail

TF1_CHECKPOINT="${TF1_CHECKPOINT:-checkpoints/assemble_resnet50}"
DATA_DIR="${DATA_DIR:-data/imagenet}"
MODEL_DIR="${MODEL_DIR:-runs/assemble_resnet50_tf1}"
MODEL="${MODEL:-assemble_resnet50}"
RESNET_SIZE="${RESNET_SIZE:-50}"
BL_ALPHA="${BL_ALPHA:-2}"
BL_BETA="${BL_BETA:-4}"
PREPROCESSING_TYPE="${PREPROCESSING_TYPE:-imagenet_224_256}"
BATCH_SIZE="${BATCH_SIZE:-256}"
NUM_GPUS="${NUM_GPUS:-1}"
DISTRIBUTION_STRATEGY="${DISTRIBUTION_STRATEGY:-mirrored}"
PYTHON="${PYTHON:-python}"

"${PYTHON}" -m assembled_cnn.tools.convert_tf1_checkpoint \
  --tf1_checkpoint="${TF1_CHECKPOINT}" \
  --model_dir="${MODEL_DIR}" \
  --model="${MODEL}" \
  --num_classes=1001

"${PYTHON}" main_classification.py \
  --eval_only=true \
  --distribution_strategy="${DISTRIBUTION_STRATEGY}" \
  --num_gpus="${NUM_GPUS}" \
  --dataset_name=imagenet \
  --data_dir="${DATA_DIR}" \
  --model_dir="${MODEL_DIR}" \
  --preprocessing_type="${PREPROCESSING_TYPE}" \
  --batch_size="${BATCH_SIZE}" \
  --resnet_version=2 \
  --resnet_size="${RESNET_SIZE}" \
  --bl_alpha="${BL_ALPHA}" \
  --bl_beta="${BL_BETA}" \
  --use_resnet_d=false \
  --use_sk_block=true \
  --anti_alias_type=sconv \
  --anti_alias_filter_size=3 \
  "$@"

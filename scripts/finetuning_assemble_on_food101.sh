#!/usr/bin/env bash
# Fine-tune Assemble-ResNet-50 on Food-101.
# Recipe of the original scripts/finetuning_assemble_on_food101.sh (reference doc §3.3, §3.10):
# as finetuning_vanila_on_food101.sh (4 GPUs, batch 256, peak LR 0.01, warm-up 5 + cosine,
# weight decay 1e-3, bn_momentum 0.966, 100 epochs, ratio_fine_eval 0.9) plus mixup type 1,
# AutoAugment `good` (the CIFAR policy), label smoothing 0.1 and DropBlock keep_prob 0.9 -> 0.7,
# on the Assemble-ResNet-50 architecture (must match the checkpoint: the original's issue #4).
# The original starts with --clean (delete MODEL_DIR); set CLEAN=false to resume instead.
# Its preprocessing_type was left at the `imagenet` default.
#
# The FGVC recipes (finetuning_assemble_on_{cars,flowers,aircraft,pets}.sh) run this one with
# DATASET and their epochs (the paper's Table 13).
#
# Environment: DATASET [food101] registry name; DATA_DIR [data/food101]; PRETRAINED [runs/assemble_resnet50] ImageNet model_dir
# or checkpoint; MODEL_DIR [runs/assemble_resnet50_food101]; NUM_GPUS [4]; BATCH_SIZE [256];
# TRAIN_EPOCHS [100]; CLEAN [true]; MODE [train_and_eval]; DISTRIBUTION_STRATEGY [mirrored];
# PYTHON [python].
set -euo pipefail

DATASET="${DATASET:-food101}"
DATA_DIR="${DATA_DIR:-data/food101}"
PRETRAINED="${PRETRAINED:-runs/assemble_resnet50}"
MODEL_DIR="${MODEL_DIR:-runs/assemble_resnet50_food101}"
NUM_GPUS="${NUM_GPUS:-4}"
BATCH_SIZE="${BATCH_SIZE:-256}"
TRAIN_EPOCHS="${TRAIN_EPOCHS:-100}"
CLEAN="${CLEAN:-true}"
MODE="${MODE:-train_and_eval}"
DISTRIBUTION_STRATEGY="${DISTRIBUTION_STRATEGY:-mirrored}"
PYTHON="${PYTHON:-python}"

"${PYTHON}" main_classification.py \
  --mode="${MODE}" \
  --distribution_strategy="${DISTRIBUTION_STRATEGY}" \
  --num_gpus="${NUM_GPUS}" \
  --clean="${CLEAN}" \
  --dataset_name="${DATASET}" \
  --data_dir="${DATA_DIR}" \
  --model_dir="${MODEL_DIR}" \
  --pretrained_model_checkpoint_path="${PRETRAINED}" \
  --preprocessing_type=imagenet \
  --resnet_version=2 \
  --resnet_size=50 \
  --bl_alpha=2 \
  --bl_beta=4 \
  --use_resnet_d=false \
  --use_sk_block=true \
  --anti_alias_type=sconv \
  --anti_alias_filter_size=3 \
  --use_dropblock=true \
  --dropblock_kp=0.9,0.7 \
  --batch_size="${BATCH_SIZE}" \
  --train_epochs="${TRAIN_EPOCHS}" \
  --epochs_between_evals=10 \
  --ratio_fine_eval=0.9 \
  --keep_checkpoint_max=0 \
  --learning_rate_decay_type=cosine \
  --base_learning_rate=0.01 \
  --lr_warmup_epochs=5 \
  --momentum=0.9 \
  --bn_momentum=0.966 \
  --weight_decay=1e-3 \
  --label_smoothing=0.1 \
  --mixup_type=1 \
  --autoaugment_type=good \
  "$@"

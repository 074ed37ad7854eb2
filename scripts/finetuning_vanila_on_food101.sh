#!/usr/bin/env bash
# Fine-tune the vanilla ResNet-50 on Food-101.
# Recipe of the original scripts/finetuning_vanila_on_food101.sh (reference doc §3.3, §3.10):
# initialise from an ImageNet checkpoint (every trainable variable except the classifier; BN
# statistics re-estimated, hence bn_momentum 0.966 = max(1 - 10/steps_per_epoch, 0.9)), 4 GPUs,
# batch 256, peak LR 0.01, 5 warm-up epochs then cosine, weight decay 1e-3, 100 epochs,
# evaluation every 10 epochs and every epoch after 90 % of training (ratio_fine_eval 0.9),
# keep every checkpoint (keep_checkpoint_max 0), `imagenet` preprocessing.
#
# Environment: DATA_DIR [data/food101] Food-101 TFRecords; PRETRAINED [runs/vanila_resnet50]
# ImageNet model_dir or checkpoint; MODEL_DIR [runs/vanila_resnet50_food101]; NUM_GPUS [4];
# BATCH_SIZE [256]; TRAIN_EPOCHS [100]; MODE [train_and_eval]; DISTRIBUTION_STRATEGY [mirrored];
# PYTHON [python].
set -euo pipefail

DATA_DIR="${DATA_DIR:-data/food101}"
PRETRAINED="${PRETRAINED:-runs/vanila_resnet50}"
MODEL_DIR="${MODEL_DIR:-runs/vanila_resnet50_food101}"
NUM_GPUS="${NUM_GPUS:-4}"
BATCH_SIZE="${BATCH_SIZE:-256}"
TRAIN_EPOCHS="${TRAIN_EPOCHS:-100}"
MODE="${MODE:-train_and_eval}"
DISTRIBUTION_STRATEGY="${DISTRIBUTION_STRATEGY:-mirrored}"
PYTHON="${PYTHON:-python}"

"${PYTHON}" main_classification.py \
  --mode="${MODE}" \
  --distribution_strategy="${DISTRIBUTION_STRATEGY}" \
  --num_gpus="${NUM_GPUS}" \
  --dataset_name=food101 \
  --data_dir="${DATA_DIR}" \
  --model_dir="${MODEL_DIR}" \
  --pretrained_model_checkpoint_path="${PRETRAINED}" \
  --preprocessing_type=imagenet \
  --resnet_version=1 \
  --resnet_size=50 \
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
  "$@"

#!/usr/bin/env bash
# Fine-tune Assemble-ResNet-IR-50 for image retrieval on Stanford Online Products (SOP).
# The paper's IR recipe (reference doc §3.14, §6.6 Tables 10, 15, 16): the released original
# code only had the zero-shot evaluation (--zeroshot_eval, recall@K on embeddings) and GeM /
# embedding flags; its cosine-softmax (ArcFace) head was never released and is ours here.
#   backbone R50D + SK, fine-tuned from an ImageNet model trained with REG (LS + mixup +
#   DropBlock + KD), with DropBlock; GeM pooling; a 1536-d embedding; ArcFace margin 0.3 on
#   SOP; weight decay 5e-4; BN momentum max(1 - 10/steps_per_epoch, 0.9) = 0.978 for SOP at
#   batch 128; SOP: LR 0.008, batch 128, 60 epochs (CUB: 0.001, 32, 100; CARS: 0.01, 32, 100,
#   with label smoothing and AutoAugment too). Evaluation: Recall@K with cosine similarity over
#   the class-disjoint validation split; the best checkpoints are kept by recall@1.
# The ArcFace scale is not given by the paper: ARC_S defaults to the original flag's 80.
# No mixup: the angular margin needs one label per image. DropBlock keep_prob 0.9 -> 0.7 as the
# original Food-101 fine-tuning recipe, and no LR warm-up (the paper gives neither for IR).
#
# Environment: DATA_DIR [data/sop] (python -m assembled_cnn.datasets.build --dataset=sop);
# DATASET_NAME [sop] (or cub200_zeroshot, cars196_zeroshot); PRETRAINED [runs/assemble_resnet50_d_sk]
# ImageNet model_dir or checkpoint of the same architecture; MODEL_DIR [runs/assemble_ir_sop];
# NUM_GPUS [1]; BATCH_SIZE [128]; BASE_LR [0.008]; TRAIN_EPOCHS [60]; BN_MOMENTUM [0.978];
# ARC_S [80]; ARC_M [0.3]; CLEAN [true]; MODE [train_and_eval]; DISTRIBUTION_STRATEGY [mirrored];
# PYTHON [python].
set -euo pipefail

DATA_DIR="${DATA_DIR:-data/sop}"
DATASET_NAME="${DATASET_NAME:-sop}"
PRETRAINED="${PRETRAINED:-runs/assemble_resnet50_d_sk}"
MODEL_DIR="${MODEL_DIR:-runs/assemble_ir_sop}"
NUM_GPUS="${NUM_GPUS:-1}"
BATCH_SIZE="${BATCH_SIZE:-128}"
BASE_LR="${BASE_LR:-0.008}"
TRAIN_EPOCHS="${TRAIN_EPOCHS:-60}"
BN_MOMENTUM="${BN_MOMENTUM:-0.978}"
ARC_S="${ARC_S:-80}"
ARC_M="${ARC_M:-0.3}"
CLEAN="${CLEAN:-true}"
MODE="${MODE:-train_and_eval}"
DISTRIBUTION_STRATEGY="${DISTRIBUTION_STRATEGY:-mirrored}"
PYTHON="${PYTHON:-python}"

"${PYTHON}" main_classification.py \
  --mode="${MODE}" \
  --distribution_strategy="${DISTRIBUTION_STRATEGY}" \
  --num_gpus="${NUM_GPUS}" \
  --clean="${CLEAN}" \
  --dataset_name="${DATASET_NAME}" \
  --data_dir="${DATA_DIR}" \
  --model_dir="${MODEL_DIR}" \
  --pretrained_model_checkpoint_path="${PRETRAINED}" \
  --preprocessing_type=imagenet \
  --resnet_version=1 \
  --resnet_size=50 \
  --use_resnet_d=true \
  --use_sk_block=true \
  --use_dropblock=true \
  --dropblock_kp=0.9,0.7 \
  --pool_type=gem \
  --embedding_size=1536 \
  --logit_type=arcface \
  --arc_s="${ARC_S}" \
  --arc_m="${ARC_M}" \
  --cls_loss_type=softmax \
  --zeroshot_eval=true \
  --recall_at_k=1,10,100 \
  --eval_similarity=cosine \
  --batch_size="${BATCH_SIZE}" \
  --train_epochs="${TRAIN_EPOCHS}" \
  --epochs_between_evals=5 \
  --learning_rate_decay_type=cosine \
  --base_learning_rate="${BASE_LR}" \
  --momentum=0.9 \
  --bn_momentum="${BN_MOMENTUM}" \
  --weight_decay=5e-4 \
  "$@"

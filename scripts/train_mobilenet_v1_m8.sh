#!/usr/bin/env bash
# SE-MobileNet-V1 on ImageNet: M8, the top of the paper's MobileNet ladder (reference doc §6.7:
# SE with r=2, label smoothing + mixup + KD + DropBlock, 900 epochs, 77.30 top-1). The original
# repository ships no MobileNet code; this is the M0 recipe (train_mobilenet_v1_m0.sh) plus:
#   SE blocks with reduction 2 after every pointwise conv (--use_se_block --se_ratio=2);
#   label smoothing 0.1 and mixup type 1 (alpha 0.2), as in M3;
#   DropBlock after the pointwise BN of the 14x14 (1/4 rate) and 7x7 blocks, keep-prob 1.0 -> 0.9
#   (the ResNets' stage 3-4 placement, the paper's DropBlock settings §6.8);
#   knowledge distillation at T=1 from teacher logits stored in the records: write them first with
#   python -m assembled_cnn.kd.extract_logits --teacher TEACHER --data_dir data/imagenet
#   --output_dir "$DATA_DIR" --offset 1 (docs/transfer.md, "Knowledge distillation").
#
# Environment: as train_mobilenet_v1_m0.sh, with DATA_DIR [data/imagenet_kd] (records with logits),
# MODEL_DIR [runs/mobilenet_v1_m8], TRAIN_EPOCHS [900] and KD_TEMP [1].
set -euo pipefail

export DATA_DIR="${DATA_DIR:-data/imagenet_kd}"
export MODEL_DIR="${MODEL_DIR:-runs/mobilenet_v1_m8}"
export TRAIN_EPOCHS="${TRAIN_EPOCHS:-900}"
KD_TEMP="${KD_TEMP:-1}"

exec bash "$(dirname "${BASH_SOURCE[0]}")/train_mobilenet_v1_m0.sh" \
  --use_se_block \
  --se_ratio=2 \
  --label_smoothing=0.1 \
  --mixup_type=1 \
  --use_dropblock \
  --dropblock_kp=1.0,0.9 \
  --kd_temp="${KD_TEMP}" \
  "$@"

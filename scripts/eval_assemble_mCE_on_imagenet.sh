#!/usr/bin/env bash
# mCE of Assemble-ResNet-50 on corrupted ImageNet validation images.
# The original scripts/eval_assemble_mCE_on_imagenet.sh (reference doc §1.7, §5) ran
# mce/eval_robustness.py on locally generated JPEGs `validation_292_256` (resize 292 -> crop 256,
# the BL eval crop), batch 1024 over 8 GPUs, 1001 classes, label_offset 1 (background class 0).
# Here: (1) generate the corrupted sets from the clean validation TFRecords if CE_DIR has none,
# (2) export MODEL_DIR to a SavedModel, (3) evaluate every corruption and write mce.json / mce.md
# / ce.png to OUTPUT_DIR. The original averaged over 19 corruptions; we report both the
# canonical 15-corruption mCE and the 19-corruption mean (see docs/robustness.md).
#
# Environment: DATA_DIR [data/imagenet] clean TFRecords (validation-*); CE_DIR
# [data/imagenet_c_292_256]; MODEL_DIR [runs/assemble_resnet50]; EXPORT_DIR [MODEL_DIR/export];
# OUTPUT_DIR [MODEL_DIR/robustness]; BATCH_SIZE [128]; NUM_WORKERS [8]; PYTHON [python].
set -euo pipefail

DATA_DIR="${DATA_DIR:-data/imagenet}"
CE_DIR="${CE_DIR:-data/imagenet_c_292_256}"
MODEL_DIR="${MODEL_DIR:-runs/assemble_resnet50}"
EXPORT_DIR="${EXPORT_DIR:-${MODEL_DIR}/export}"
OUTPUT_DIR="${OUTPUT_DIR:-${MODEL_DIR}/robustness}"
BATCH_SIZE="${BATCH_SIZE:-128}"
NUM_WORKERS="${NUM_WORKERS:-8}"
PYTHON="${PYTHON:-python}"

# (1) Corrupted sets: finished sets are skipped on a rerun (done.json per set).
"${PYTHON}" -m assembled_cnn.robustness.generate \
  --data_dir="${DATA_DIR}" \
  --output_dir="${CE_DIR}" \
  --resize=292 \
  --crop=256 \
  --num_workers="${NUM_WORKERS}"

# (2) The model as a SavedModel (eval preprocessing imagenet_224_256, input 256 x 256).
"${PYTHON}" -m assembled_cnn.export \
  --model_dir="${MODEL_DIR}" \
  --export_dir="${EXPORT_DIR}" \
  --preprocessing_type=imagenet_224_256 \
  --overwrite

# (3) Corruption errors and mCE.
"${PYTHON}" -m assembled_cnn.robustness.eval_robustness \
  --saved_model="${EXPORT_DIR}" \
  --data_dir="${CE_DIR}" \
  --batch_size="${BATCH_SIZE}" \
  --output_dir="${OUTPUT_DIR}" \
  "$@"

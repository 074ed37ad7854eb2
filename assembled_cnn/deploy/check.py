"""The export check: an export's logits against the Keras model's on real validation images.

Float exports (SavedModel, TFLite float32, ONNX) must agree to ``FLOAT_TOLERANCE`` relative
(max |Δlogit| / max |logit|); an int8 TFLite model to ``INT8_MIN_AGREEMENT`` top-1 agreement,
with its accuracy drop reported. The result lands in ``export_check.json`` beside the model.
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np

from assembled_cnn.utils.io import write_json_atomic

CHECK_FILE = "export_check.json"
FLOAT_TOLERANCE = 1e-4
INT8_MIN_AGREEMENT = 0.95
BATCH = 32


def batched(fn: Callable[[np.ndarray], np.ndarray], images: np.ndarray, batch: int = BATCH) -> np.ndarray:
    return np.concatenate([np.asarray(fn(images[i:i + batch]), np.float32)
                           for i in range(0, len(images), batch)])


def compare(reference: np.ndarray, exported: np.ndarray, labels: np.ndarray | None,
            quantized: bool) -> dict:
    """Agreement figures of two logit arrays [N, K]; `passed` by the format's criterion."""
    diff = float(np.max(np.abs(exported - reference)))
    scale = float(np.max(np.abs(reference))) or 1.0
    ref_top1, exp_top1 = reference.argmax(-1), exported.argmax(-1)
    result = {"num_images": int(len(reference)), "max_abs_diff_logits": diff,
              "max_rel_diff_logits": diff / scale, "top1_agreement": float(np.mean(ref_top1 == exp_top1))}
    if labels is not None:
        result["keras_top1_accuracy"] = float(np.mean(ref_top1 == labels))
        result["export_top1_accuracy"] = float(np.mean(exp_top1 == labels))
        result["accuracy_drop"] = result["keras_top1_accuracy"] - result["export_top1_accuracy"]
    if quantized:
        result.update(criterion=f"top1_agreement >= {INT8_MIN_AGREEMENT}",
                      passed=result["top1_agreement"] >= INT8_MIN_AGREEMENT)
    else:
        result.update(criterion=f"max_rel_diff_logits <= {FLOAT_TOLERANCE}",
                      passed=result["max_rel_diff_logits"] <= FLOAT_TOLERANCE)
    return result


def check_export(keras_logits: Callable[[np.ndarray], np.ndarray],
                 export_logits: Callable[[np.ndarray], np.ndarray], images: np.ndarray,
                 labels: np.ndarray | None, export_format: str) -> dict:
    reference = batched(keras_logits, images)
    exported = batched(export_logits, images)
    return {"format": export_format, **compare(reference, exported, labels,
                                               export_format == "tflite_int8")}


def write_check(folder: str, result: dict) -> str:
    path = os.path.join(folder, CHECK_FILE)
    write_json_atomic(path, result)
    return path

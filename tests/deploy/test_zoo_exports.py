"""Presets with the layers the converters could trip on, at tiny width: SE (MobileNet v1),
inverted residuals (MobileNet v2), GeM pooling with an embedding head, Big-Little + SK +
anti-aliasing + DropBlock in inference (the sweep over every preset is in docs/deployment.md)."""

import numpy as np
import pytest

from assembled_cnn.deploy import check, convert, runtime
from assembled_cnn.nets import build_model, fold_batch_norm

SIZE = 32
CASES = {
    "se_mobilenet_v1": dict(width_multiplier=0.25),
    "mobilenet_v2": dict(width_multiplier=0.25),
    "resnet18": dict(num_filters=8, pool_type="gem", embedding_size=16),
}


def _images(count: int = 8) -> np.ndarray:
    return np.random.default_rng(0).normal(0, 60, (count, SIZE, SIZE, 3)).astype(np.float32)


def _export_logits(tmp_path, name: str, blob: bytes, fmt: str):
    path = tmp_path / (f"{name}.onnx" if fmt == "onnx" else f"{name}.tflite")
    path.write_bytes(blob)
    return runtime.load_export(str(path)).logits


@pytest.mark.parametrize("name,fmt", [("se_mobilenet_v1", "tflite"), ("mobilenet_v2", "onnx"),
                                      ("resnet18", "tflite"), ("resnet18", "onnx")])
def test_preset_matches_keras(name, fmt, tmp_path):
    if fmt == "onnx":
        pytest.importorskip("tf2onnx")
        pytest.importorskip("onnxruntime")
    model = build_model(name, num_classes=10, input_size=SIZE, **CASES[name])
    served = fold_batch_norm(model)
    shape = (SIZE, SIZE, 3)
    blob = convert.to_onnx(served, shape) if fmt == "onnx" else convert.to_tflite(served, shape)
    images = _images()
    result = check.compare(model(images, training=False).numpy(),
                           _export_logits(tmp_path, name, blob, fmt)(images), None, quantized=False)
    assert result["passed"], result


def test_int8_conversion_failure_is_one_line(tmp_path):
    """A calibration set of the wrong shape: the converter's long trace becomes one line."""
    model = build_model("mobilenet_v1", num_classes=10, input_size=SIZE, width_multiplier=0.25)
    wrong = lambda: iter([[np.zeros((1, SIZE + 1, SIZE, 3), np.float32)]])  # noqa: E731
    with pytest.raises(convert.ConversionError) as error:
        convert.to_tflite(model, (SIZE, SIZE, 3), wrong)
    assert "\n" not in str(error.value) and "int8 TFLite" in str(error.value)

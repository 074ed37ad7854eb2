"""Every preset of `list_models()` at its own depth and a tiny width, in every export format
(SavedModel, TFLite float32, int8 TFLite, ONNX), loaded back as `predict` loads it and compared
with the Keras model on real Fashion-MNIST test images: float formats within 1e-4 relative, the
int8 model running with finite logits (random weights: its top-1 agreement means nothing here;
test_zoo_exports.py checks int8 agreement on trained networks of every layer type)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "transfer"))
from transfer_testlib import PRESET, load_fashion_mnist  # noqa: E402

from assembled_cnn.datasets.image_codec import pixels_to_png  # noqa: E402
from assembled_cnn.deploy import convert, zoo  # noqa: E402
from assembled_cnn.nets import list_models  # noqa: E402
from assembled_cnn.preprocessing import preprocess_image  # noqa: E402

NUM_IMAGES = 8


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    """Real Fashion-MNIST test images, preprocessed by the `mnist` eval preset (32 px, 3 channels)."""
    _, (pixels, _), _ = load_fashion_mnist(0, NUM_IMAGES)
    encoded = tf.constant([pixels_to_png(p).data for p in pixels])
    dataset = tf.data.Dataset.from_tensor_slices(encoded).map(lambda e: preprocess_image(e, False, PRESET))
    return np.stack([image.numpy() for image in dataset])


@pytest.fixture(scope="module")
def every_preset(images) -> dict:
    """Every preset exported once, two presets at a time (the converters use one core each)."""
    return zoo.export_presets(list_models(), images, workers=2)


@pytest.mark.parametrize("name", list_models())
def test_preset_exports_in_every_format(name, every_preset):
    results = every_preset[name]
    assert set(results) == set(zoo.FORMATS)
    failed = {fmt: r.get("reason") for fmt, r in results.items() if r["status"] != "ok"}
    assert not failed, f"{name} does not export: {failed}"
    for fmt in ("saved_model", "tflite", "onnx"):
        assert results[fmt]["passed"], f"{name} {fmt}: max relative Δlogit {results[fmt]['max_rel_diff_logits']:.2e}"
    int8 = results["tflite_int8"]
    assert int8["logits_shape"] == [NUM_IMAGES, 10] and int8["logits_finite"] and int8["passed"]


def test_a_format_that_cannot_be_written_is_a_one_line_reason(images, tmp_path, monkeypatch):
    def refuse(model, shape, opset=convert.ONNX_OPSET, frozen=None):
        raise convert.ConversionError(f"{model.name}: no ONNX conversion: Unsupported op Foo\n  at node 7")

    monkeypatch.setattr(convert, "to_onnx", refuse)
    result = zoo.export_preset("resnet18", images, str(tmp_path), formats=("onnx", "tflite"))
    assert result["onnx"]["status"] == "fails"
    assert zoo.cell(result["onnx"]).startswith("fails: ") and "Unsupported op Foo" in zoo.cell(result["onnx"])
    assert "\n" not in zoo.cell(result["onnx"]) and "node 7" not in zoo.cell(result["onnx"])
    assert zoo.cell(result["tflite"]).startswith("ok (")


def test_a_format_that_breaks_otherwise_costs_only_that_format(images, tmp_path, monkeypatch):
    def crash(model, shape, opset=convert.ONNX_OPSET, frozen=None):
        raise RuntimeError("converter crashed\nTraceback ...")

    monkeypatch.setattr(convert, "to_onnx", crash)
    result = zoo.export_preset("mobilenet_v1", images, str(tmp_path), formats=("onnx", "tflite"))
    assert result["onnx"]["status"] == "error" and result["onnx"]["reason"] == "RuntimeError: converter crashed"
    assert result["tflite"]["status"] == "ok" and result["tflite"]["passed"]


def test_a_float_export_that_disagrees_is_marked_mismatch(images, tmp_path, monkeypatch):
    from assembled_cnn.deploy import runtime

    real_load = runtime.load_export

    def perturbed(path, num_threads=None):
        runner = real_load(path, num_threads)
        original = runner.logits
        runner.logits = lambda x: original(x) * 1.01  # 1 % off: far over 1e-4
        return runner

    monkeypatch.setattr(runtime, "load_export", perturbed)
    result = zoo.export_preset("mobilenet_v1", images, str(tmp_path), formats=("tflite",))["tflite"]
    assert result["status"] == "ok" and not result["passed"]
    assert zoo.cell(result).startswith("MISMATCH")


def test_a_network_that_cannot_be_frozen_fails_each_converted_format_once_with_its_reason(images, tmp_path,
                                                                                         monkeypatch):
    calls = []

    def broken(model, shape):
        calls.append(model.name)
        raise ValueError("cannot trace\n  at layer 3")

    monkeypatch.setattr(convert, "frozen_logits", broken)
    result = zoo.export_preset("mobilenet_v1", images, str(tmp_path), formats=("tflite", "tflite_int8", "onnx"))
    assert {fmt: r["status"] for fmt, r in result.items()} == {"tflite": "fails", "tflite_int8": "fails", "onnx": "fails"}
    assert all(r["reason"].endswith("cannot be frozen for conversion: ValueError: cannot trace") for r in result.values())
    assert len(calls) == 1

"""Every layer type of the zoo through every converted format, at tiny width and 32 px, on real
Fashion-MNIST test images: TFLite float32 and ONNX within 1e-4 relative of the Keras model, the
full-integer int8 TFLite model's top-1 agreeing with it on >= 95 % of the images.

A preset's layer types are the switches and choices of its ModelConfig (SK, SE, anti-aliasing,
Big-Little, ResNet-D, DropBlock, pooling, padding, block type...), not the knobs that only scale
it (depth, width, channel ratios, numeric BN / SE / init settings: `SCALING_FIELDS`). The cases
below plus the demo's network (exported through the CLI in test_export_formats.py) exercise every
layer type of every registry preset, per architecture; `test_every_registry_preset_is_covered`
fails when a preset brings a new one. Every preset at its own depth (random weights, so float
agreement and a running int8 model) is test_every_preset_exports.py's job.

Random weights would make the int8 check say nothing (a random network's class signal is a small
part of its features, so any quantisation noise flips its top-1), so each case is trained first:
a few hundred Adam steps on real Fashion-MNIST training images, then its BN statistics are set
from one pass over them.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any, Callable

import keras
import numpy as np
import pytest
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "transfer"))
from transfer_testlib import PRESET, load_fashion_mnist  # noqa: E402

from assembled_cnn.datasets.image_codec import pixels_to_png  # noqa: E402
from assembled_cnn.demo import demo_config  # noqa: E402
from assembled_cnn.deploy import check, convert, data, runtime  # noqa: E402
from assembled_cnn.nets import build_model, fold_batch_norm  # noqa: E402
from assembled_cnn.nets.config import BASIC_BLOCK_SIZES, ModelConfig  # noqa: E402
from assembled_cnn.nets.layers.norm import BatchNorm  # noqa: E402
from assembled_cnn.nets.registry import PRESETS, model_config  # noqa: E402
from assembled_cnn.preprocessing import preprocess_image  # noqa: E402
from deploy_testlib import RECIPE  # noqa: E402

SIZE = 32
NUM_CLASSES = 10
NUM_TRAIN = 2048  # Fashion-MNIST training images
TRAIN_STEPS, BATCH, LEARNING_RATE = 200, 64, 3e-3
NUM_CHECK = 256  # test images compared
NUM_CALIBRATION = 100  # the test images after them: int8 calibration
MIN_ACCURACY = 0.5  # the Keras model must classify, or the int8 agreement says little

# Fields that change counts and numbers but no layer type; every other field of ModelConfig
# (including fields added later) is a layer type.
SCALING_FIELDS = frozenset({
    "resnet_size", "num_filters", "width_multiplier", "depth_multiplier", "bl_alpha", "bl_beta",
    "num_classes", "input_size", "bn_momentum", "bn_epsilon", "se_ratio", "zero_gamma",
    "logit_bias_init", "cosine_scale", "dropblock_block_size", "dropout_rate", "embedding_size",
    "tf1_scope",
})

# name -> (preset, hyper-parameters over it: tiny widths). Together with the demo's network
# they hold every layer type of the registry (test_every_registry_preset_is_covered).
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    # bottlenecks, SE, GeM pooling, an embedding head (basic blocks: the demo's network)
    "se_resnet50_gem_embedding": ("se_resnet50", dict(num_filters=8, pool_type="gem", embedding_size=16)),
    # Big-Little; at width 8 its little branches have 4 channels and int8 agreed on 89 % only
    "bl_resnet50": ("bl_resnet50", dict(num_filters=16)),
    # the paper's SE-MobileNet-V1 ratio (M7/M8); at r=16 the first SE has one unit, which training
    # can leave dead: a zero-range int8 tensor that XNNPACK refuses to prepare
    "se_mobilenet_v1": ("se_mobilenet_v1", dict(width_multiplier=0.25, se_ratio=2)),
    "mobilenet_v2": ("mobilenet_v2", dict(width_multiplier=0.25)),
    "efficientnet_lite0": ("efficientnet_lite0", dict(width_multiplier=0.25)),
}


def layer_types(config: ModelConfig) -> frozenset:
    """The layer types `config` builds: its true switches and its (field, value) choices."""
    types: set = set()
    for key, value in dataclasses.asdict(config).items():
        if key in SCALING_FIELDS or value is False:
            continue
        types.add(key if value is True else (key, value if not isinstance(value, list) else tuple(value)))
    if config.architecture == "resnet":
        types.add(("block", "basic" if config.resnet_size in BASIC_BLOCK_SIZES else "bottleneck"))
    if config.embedding_size > 0:
        types.add("embedding")
    if config.dropout_rate > 0:
        types.add("dropout")
    return frozenset(types)


def tested_configs() -> list[ModelConfig]:
    demo = demo_config("data", "model", RECIPE).model  # exported by test_export_formats.py
    return [demo, *[model_config(preset, **overrides) for preset, overrides in CASES.values()]]


def untested_layer_types(config: ModelConfig, tested: list[ModelConfig]) -> set:
    exercised = set().union(*[layer_types(t) for t in tested if t.architecture == config.architecture])
    return set(layer_types(config)) - exercised


def test_every_registry_preset_is_covered():
    tested = tested_configs()
    missing = {name: untested_layer_types(model_config(name), tested) for name in PRESETS}
    assert not {name: types for name, types in missing.items() if types}, \
        "layer types no export test exercises; add a case to CASES"


def test_layer_types_ignore_scaling_and_catch_a_new_type():
    assert layer_types(model_config("resnet50")) == layer_types(model_config("resnet200"))
    assert layer_types(model_config("assemble_resnet50")) == layer_types(model_config("assemble_resnet152"))
    assert layer_types(model_config("efficientnet_lite0")) == layer_types(model_config("efficientnet_lite4"))
    assert layer_types(model_config("resnet18")) != layer_types(model_config("resnet50"))
    assert untested_layer_types(model_config("resnet50", use_sk_block=True, pool_type="flatten"),
                                tested_configs()) == {("pool_type", "flatten")}
    assert untested_layer_types(model_config("mobilenet_v2", logit_type="cosine"), tested_configs()) \
        == {("logit_type", "cosine")}


# ----------------------------------------------------------------------------- real images

def _preprocessed(pixels: np.ndarray) -> np.ndarray:
    """Gray 28x28 Fashion-MNIST → the `mnist` eval preset at 32 px (3 channels), from PNGs."""
    encoded = tf.constant([pixels_to_png(p).data for p in pixels])
    dataset = tf.data.Dataset.from_tensor_slices(encoded).map(lambda e: preprocess_image(e, False, PRESET))
    return np.stack([image.numpy() for image in dataset])


@dataclasses.dataclass
class RealImages:
    train: np.ndarray
    train_labels: np.ndarray
    check: np.ndarray
    check_labels: np.ndarray
    calibration: np.ndarray
    real: bool


@pytest.fixture(scope="module")
def images() -> RealImages:
    (train, train_labels), (test, test_labels), real = load_fashion_mnist(NUM_TRAIN, NUM_CHECK + NUM_CALIBRATION)
    test_images = _preprocessed(test)
    return RealImages(_preprocessed(train), train_labels.astype(np.int32), test_images[:NUM_CHECK],
                      test_labels[:NUM_CHECK].astype(np.int64), test_images[NUM_CHECK:], real)


# ----------------------------------------------------------------------------- a classifier

def train(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    """Adam on batches of the training images (one compiled step); the last batch's loss."""
    optimizer = keras.optimizers.Adam(LEARNING_RATE)

    @tf.function
    def step(batch, targets):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                targets, model(batch, training=True)))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    images, labels = tf.constant(images), tf.constant(labels)
    for index in range(TRAIN_STEPS):
        start = index * BATCH % (len(images) - BATCH + 1)
        loss = step(images[start:start + BATCH], labels[start:start + BATCH])
    return float(loss)


def set_batch_norm_statistics(model: keras.Model, images: np.ndarray) -> None:
    """Moving statistics := those of `images` (one training-mode pass with momentum 0)."""
    norms = [layer for layer in model.layers if isinstance(layer, BatchNorm)]
    for layer in norms:
        layer.momentum = 0.0
    model(images, training=True)


@dataclasses.dataclass
class Case:
    name: str
    served: keras.Model  # BN folded, as export serves it
    reference: np.ndarray  # the Keras model's logits of the check images
    accuracy: float


@pytest.fixture(scope="module", params=list(CASES))
def case(request, images) -> Case:
    preset, overrides = CASES[request.param]
    tf.keras.utils.set_random_seed(0)
    model = build_model(preset, num_classes=NUM_CLASSES, input_size=SIZE, bn_momentum=0.9, **overrides)
    train(model, images.train, images.train_labels)
    set_batch_norm_statistics(model, images.train[:1024])
    reference = model(images.check, training=False).numpy()
    return Case(request.param, fold_batch_norm(model), reference,
                float(np.mean(reference.argmax(-1) == images.check_labels)))


def export_logits(case: Case, fmt: str, images: RealImages, folder: Path) -> Callable[[np.ndarray], np.ndarray]:
    shape = (SIZE, SIZE, 3)
    if fmt == "onnx":
        pytest.importorskip("tf2onnx")
        pytest.importorskip("onnxruntime")
        blob, suffix = convert.to_onnx(case.served, shape), "onnx"
    else:
        calibration = data.representative_dataset(images.calibration) if fmt == "tflite_int8" else None
        blob, suffix = convert.to_tflite(case.served, shape, calibration), "tflite"
    path = folder / f"{case.name}.{suffix}"
    path.write_bytes(blob)
    runner = runtime.load_export(str(path))
    assert runner.format == fmt
    return runner.logits


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_float_export_matches_keras(case, fmt, images, tmp_path):
    exported = export_logits(case, fmt, images, tmp_path)(images.check)
    result = check.compare(case.reference, exported, images.check_labels, quantized=False)
    print(f"{case.name} {fmt}: max |Δlogit| {result['max_rel_diff_logits']:.1e} relative")
    assert result["passed"] and result["max_rel_diff_logits"] <= 1e-4, result


def test_int8_export_agrees_with_keras_on_real_images(case, images, tmp_path):
    exported = export_logits(case, "tflite_int8", images, tmp_path)(images.check)
    if not images.real:
        pytest.skip("Fashion-MNIST could not be fetched: synthetic images only")
    assert case.accuracy >= MIN_ACCURACY, f"{case.name} classifies {case.accuracy:.1%} of the check images"
    result = check.compare(case.reference, exported, images.check_labels, quantized=True)
    print(f"{case.name} tflite_int8: top-1 agreement {result['top1_agreement']:.1%}, accuracy "
          f"{result['keras_top1_accuracy']:.1%} → {result['export_top1_accuracy']:.1%}")
    assert result["passed"] and result["top1_agreement"] >= 0.95, result


def test_int8_conversion_failure_is_one_line():
    """A calibration set of the wrong shape: the converter's long trace becomes one line."""
    model = build_model("mobilenet_v1", num_classes=10, input_size=SIZE, width_multiplier=0.25)
    wrong = lambda: iter([[np.zeros((1, SIZE + 1, SIZE, 3), np.float32)]])  # noqa: E731
    with pytest.raises(convert.ConversionError) as error:
        convert.to_tflite(model, (SIZE, SIZE, 3), wrong)
    assert "\n" not in str(error.value) and "int8 TFLite" in str(error.value)

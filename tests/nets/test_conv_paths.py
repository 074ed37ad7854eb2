"""The CPU-tuned conv paths are chosen per device: CPU keeps the measured rule, others the plain conv."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from assembled_cnn.nets import build_model
from assembled_cnn.nets.layers import conv_paths, padded_conv
from assembled_cnn.nets.layers.conv_paths import ENV_VAR, conv_paths_mode, set_conv_paths, use_tuned_paths
from assembled_cnn.nets.layers.padded_conv import FixedPaddingConv2D
from assembled_cnn.nets.layers.pointwise_conv import PointwiseConv2D


class FakeKernel:
    def __init__(self, device):
        self.device = device


@pytest.fixture(autouse=True)
def no_setting(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    set_conv_paths(None)
    yield
    set_conv_paths(None)


@pytest.fixture
def on_gpu(monkeypatch):
    """Layers behave as if their kernels lived on a GPU."""
    monkeypatch.setattr(conv_paths, "device_type", lambda kernel=None: "GPU")


def wide_tiny_conv(strides=1):
    layer = FixedPaddingConv2D(512, 3, strides=strides, pad=(1, 1))
    x = tf.constant(np.random.default_rng(0).normal(size=(1, 2 * strides, 2 * strides, 256)).astype("float32"))
    return layer, x


def test_device_of_the_kernel_decides():
    assert conv_paths.device_type(FakeKernel("/job:localhost/replica:0/task:0/device:GPU:0")) == "GPU"
    assert conv_paths.device_type(FakeKernel("/device:CPU:0")) == "CPU"
    layer, x = wide_tiny_conv()
    layer(x)
    assert conv_paths.device_type(layer.kernel) == "CPU"  # this machine has no GPU
    assert use_tuned_paths(FakeKernel("/device:CPU:0"))
    assert not use_tuned_paths(FakeKernel("/device:GPU:1"))
    assert not use_tuned_paths(FakeKernel("/device:TPU:0"))


def test_cpu_keeps_the_measured_rule_and_gpu_gets_the_plain_conv(monkeypatch):
    layer, x = wide_tiny_conv()
    pointwise = PointwiseConv2D(8)
    small = tf.ones((1, 4, 4, 3))
    layer(x), pointwise(small)
    assert layer._use_im2col(x, training=True) and pointwise._use_matmul(small)
    monkeypatch.setattr(conv_paths, "device_type", lambda kernel=None: "GPU")
    assert not layer._use_im2col(x, training=True) and not pointwise._use_matmul(small)


@pytest.mark.parametrize("mode,device,tuned", [("tuned", "GPU", True), ("plain", "CPU", False),
                                               ("auto", "CPU", True), ("auto", "GPU", False)])
def test_environment_and_setting_override_the_device(monkeypatch, mode, device, tuned):
    monkeypatch.setattr(conv_paths, "device_type", lambda kernel=None: device)
    monkeypatch.setenv(ENV_VAR, mode)
    assert use_tuned_paths() is tuned
    set_conv_paths("plain" if tuned else "tuned")  # the in-process setting wins over the variable
    assert use_tuned_paths() is not tuned
    with conv_paths.conv_paths(mode):
        assert use_tuned_paths() is tuned
    assert conv_paths_mode() == ("plain" if tuned else "tuned")


def test_unknown_modes_are_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match="choose one of auto, tuned, plain"):
        set_conv_paths("fast")
    monkeypatch.setenv(ENV_VAR, "gpu")
    with pytest.raises(ValueError, match=ENV_VAR):
        use_tuned_paths()


@pytest.mark.parametrize("training", [False, True])
def test_plain_path_computes_the_same_conv(on_gpu, training):
    """Strided fp32 inference: tf.pad + VALID instead of the explicit padding in the conv op."""
    for strides in (1, 2):
        layer, x = wide_tiny_conv(strides)
        out = layer(x, training=training)
        padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
        expected = tf.nn.conv2d(padded, layer.kernel, strides=strides, padding="VALID")
        np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)


def test_models_keep_names_shapes_and_outputs_under_both_paths(monkeypatch):
    monkeypatch.setattr(padded_conv, "IM2COL_MIN_CHANNELS", 1)  # im2col on the toy model's tiny maps
    monkeypatch.setattr(padded_conv, "IM2COL_MIN_FILTERS", 1)
    x = tf.constant(np.random.default_rng(2).normal(0, 50, (2, 32, 32, 3)).astype("float32"))
    outputs, layouts = {}, {}
    for mode in ("tuned", "plain"):
        with conv_paths.conv_paths(mode):
            keras.utils.set_random_seed(7)
            model = build_model("resnet18", num_classes=5, num_filters=8)
            outputs[mode] = [model(x, training=False).numpy(), model(x, training=True).numpy()]
        layouts[mode] = [(w.path, tuple(w.shape)) for w in model.weights]
    assert layouts["tuned"] == layouts["plain"]
    for tuned, plain in zip(outputs["tuned"], outputs["plain"]):
        np.testing.assert_allclose(tuned, plain, rtol=1e-4, atol=1e-4)

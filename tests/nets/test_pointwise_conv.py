"""PointwiseConv2D: the matmul form equals a 1x1 convolution (strided = fixed pad 0 + VALID)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from assembled_cnn.nets.layers import pointwise_conv
from assembled_cnn.nets.layers.pointwise_conv import PointwiseConv2D


def reference_conv(x, kernel, bias, strides):
    y = tf.nn.conv2d(x, kernel, strides=[1, strides, strides, 1], padding="VALID")
    return y if bias is None else tf.nn.bias_add(y, bias)


@pytest.mark.parametrize("size,strides,use_bias", [(4, 1, False), (5, 2, True), (8, 2, False), (17, 1, True),
                                                     (20, 2, False)])
def test_matches_conv_on_both_paths(size, strides, use_bias):
    layer = PointwiseConv2D(6, strides=strides, use_bias=use_bias, bias_initializer="random_normal")
    x = tf.constant(np.random.default_rng(0).normal(size=(2, size, size, 5)).astype("float32"))
    out = layer(x)
    out_positions = (-(-size // strides)) ** 2
    assert layer._use_matmul(x) == (out_positions <= pointwise_conv.MATMUL_MAX_POSITIONS)
    expected = reference_conv(x, layer.kernel, layer.bias if use_bias else None, strides)
    assert out.shape == expected.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)


def test_gradients_match_and_unknown_sizes_use_the_conv():
    layer = PointwiseConv2D(3, strides=2)
    x = tf.constant(np.random.default_rng(1).normal(size=(2, 6, 6, 4)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = tf.reduce_sum(tf.square(layer(x)))
        theirs = tf.reduce_sum(tf.square(reference_conv(x, layer.kernel, None, 2)))
    for a, b in [(tape.gradient(ours, x), tape.gradient(theirs, x)),
                 (tape.gradient(ours, layer.kernel), tape.gradient(theirs, layer.kernel))]:
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)
    inputs = keras.Input((None, None, 4))
    assert not layer._use_matmul(inputs)


def test_mixed_bfloat16_computes_in_bfloat16():
    layer = PointwiseConv2D(4, dtype="mixed_bfloat16")
    out = layer(tf.ones((1, 3, 3, 2)))
    assert out.dtype == tf.bfloat16 and layer.kernel.dtype == "float32"


def test_config_round_trip():
    layer = PointwiseConv2D(4, strides=2, use_bias=True, name="proj")
    clone = PointwiseConv2D.from_config(layer.get_config())
    assert (clone.filters, clone.strides, clone.use_bias, clone.kernel_size) == (4, (2, 2), True, (1, 1))

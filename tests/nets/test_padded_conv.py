"""FixedPaddingConv2D: every way it computes equals ZeroPadding2D(before, after) + VALID conv."""

import numpy as np
import pytest
import tensorflow as tf

from assembled_cnn.nets.factory import fixed_padding
from assembled_cnn.nets.layers import padded_conv
from assembled_cnn.nets.layers.padded_conv import FixedPaddingConv2D


def reference(x, kernel, pad, strides):
    before, after = pad
    padded = tf.pad(x, [[0, 0], [before, after], [before, after], [0, 0]])
    return tf.nn.conv2d(padded, kernel, strides=strides, padding="VALID")


CASES = [  # (input size, kernel, stride): 2x2 / 1x1 / 2x1 outputs take the im2col path
    (2, 3, 1), (4, 3, 2), (3, 3, 2), (1, 3, 1), (4, 7, 2), (8, 3, 1), (9, 3, 2), (16, 7, 2), (5, 5, 1),
]


@pytest.fixture
def im2col_for_any_width(monkeypatch):
    """The im2col path normally needs >= 256 channels and 512 filters; test it on small tensors."""
    monkeypatch.setattr(padded_conv, "IM2COL_MIN_CHANNELS", 1)
    monkeypatch.setattr(padded_conv, "IM2COL_MIN_FILTERS", 1)


@pytest.mark.parametrize("size,kernel,strides", CASES)
@pytest.mark.parametrize("training", [False, True])
def test_matches_pad_then_valid_conv(im2col_for_any_width, size, kernel, strides, training):
    pad = fixed_padding(kernel)
    layer = FixedPaddingConv2D(5, kernel, strides=strides, pad=pad, use_bias=True,
                               bias_initializer="random_normal")
    x = tf.constant(np.random.default_rng(size).normal(size=(3, size, size, 4)).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = layer(x, training=training)
        theirs = tf.nn.bias_add(reference(x, layer.kernel, pad, strides), layer.bias)
        ours_loss, theirs_loss = tf.reduce_sum(ours ** 2), tf.reduce_sum(theirs ** 2)
    positions = int(np.prod(theirs.shape[1:3]))
    expected_path = positions <= padded_conv.IM2COL_MAX_POSITIONS or (
        not training and strides == 1 and positions <= padded_conv.IM2COL_INFERENCE_MAX_POSITIONS)
    assert layer._use_im2col(x, training) == expected_path
    assert ours.shape == theirs.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=1e-5)
    for target in (x, layer.kernel):
        np.testing.assert_allclose(tape.gradient(ours_loss, target).numpy(),
                                   tape.gradient(theirs_loss, target).numpy(), rtol=1e-4, atol=1e-4)


def test_bfloat16_im2col_path(im2col_for_any_width):
    layer = FixedPaddingConv2D(4, 3, pad=(1, 1), dtype="mixed_bfloat16")
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 2, 2, 3)).astype("float32"))
    out = layer(x)
    assert layer._use_im2col(x) and out.dtype == tf.bfloat16
    expected = reference(x, layer.kernel, (1, 1), 1)
    np.testing.assert_allclose(tf.cast(out, tf.float32).numpy(), expected.numpy(), rtol=0.05, atol=0.05)


@pytest.mark.parametrize("size,channels,filters,strides,training,im2col", [
    (2, 256, 512, 1, True, True),     # stage 4 at 64 px
    (4, 512, 512, 2, True, True),     # its strided first conv
    (2, 128, 256, 1, False, False),   # too narrow: the conv is faster
    (2, 256, 256, 1, False, False),
    (4, 256, 512, 1, False, True),    # 4x4: inference only
    (4, 256, 512, 1, True, False),
    (8, 256, 512, 2, False, False),   # strided to 4x4
    (5, 256, 512, 1, False, False),   # 25 positions
])
def test_only_wide_convs_on_tiny_maps_take_the_im2col_path(size, channels, filters, strides, training, im2col):
    layer = FixedPaddingConv2D(filters, 3, strides=strides, pad=(1, 1))
    x = tf.constant(np.random.default_rng(0).normal(size=(1, size, size, channels)).astype("float32"))
    out = layer(x, training=training)
    assert layer._use_im2col(x, training) == im2col
    np.testing.assert_allclose(out.numpy(), reference(x, layer.kernel, (1, 1), strides).numpy(),
                               rtol=1e-3, atol=1e-3)

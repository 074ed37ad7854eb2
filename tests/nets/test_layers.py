"""Unit tests of the building blocks: blur, SK selection, DropBlock, fused BN, SE, zero-gamma."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from assembled_cnn.nets.layers import (BatchNorm, BlurPool2D, DropBlock, KeepProbability, SelectKernels,
                                       SplitSumPool, binomial_filter)


def test_binomial_filter_values():
    np.testing.assert_allclose(binomial_filter(3), np.outer([1, 2, 1], [1, 2, 1]) / 16.0)
    np.testing.assert_allclose(binomial_filter(5)[2], np.array([1, 4, 6, 4, 1]) * 6 / 256.0)
    rows = {1: [1], 2: [1, 1], 4: [1, 3, 3, 1], 6: [1, 5, 10, 10, 5, 1], 7: [1, 6, 15, 20, 15, 6, 1]}
    for size, row in rows.items():
        expected = np.outer(row, row) / np.sum(row) ** 2
        np.testing.assert_allclose(binomial_filter(size), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="1..7"):
        binomial_filter(8)


def test_blur_uses_reflect_padding_and_stride():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, (1, 8, 8, 2)).astype("float32")
    out = BlurPool2D(3, strides=2)(image).numpy()
    padded = np.pad(image, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    kernel = binomial_filter(3)
    expected = np.zeros((1, 4, 4, 2), np.float32)
    for i in range(4):
        for j in range(4):
            window = padded[0, 2 * i:2 * i + 3, 2 * j:2 * j + 3, :]
            expected[0, i, j] = np.tensordot(kernel, window, axes=([0, 1], [0, 1]))
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    assert BlurPool2D(3, strides=2)(np.zeros((1, 56, 56, 4), np.float32)).shape == (1, 28, 28, 4)
    assert BlurPool2D(5, strides=2)(np.zeros((1, 56, 56, 4), np.float32)).shape == (1, 28, 28, 4)


def test_blur_of_size_one_subsamples_height_and_width():
    image = np.arange(2 * 6 * 6 * 3, dtype=np.float32).reshape(2, 6, 6, 3)
    np.testing.assert_array_equal(BlurPool2D(1, strides=2)(image).numpy(), image[:, ::2, ::2, :])


def test_sk_selection_is_a_per_channel_softmax_over_the_two_halves():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(2, 4, 4, 6)).astype("float32")
    logits = rng.normal(size=(2, 1, 1, 6)).astype("float32")
    out = SelectKernels()([features, logits]).numpy()
    a1, a2 = logits[..., :3], logits[..., 3:]
    w1 = np.exp(a1) / (np.exp(a1) + np.exp(a2))
    np.testing.assert_allclose(out, w1 * features[..., :3] + (1 - w1) * features[..., 3:], rtol=1e-5, atol=1e-6)
    pooled = SplitSumPool()(features).numpy()
    np.testing.assert_allclose(pooled, (features[..., :3] + features[..., 3:]).mean(axis=(1, 2), keepdims=True),
                               rtol=1e-5, atol=1e-6)


def test_sk_gradients_match_the_textbook_softmax_and_sum():
    """The unit computes the softmax as sigmoids and sums over a branch axis (fewer passes over
    the map); its gradients must be those of the plain formula, in fp32 and mixed fp16."""
    rng = np.random.default_rng(2)
    for dtype, tolerance in (("float32", 1e-5), ("float16", 2e-2)):
        features = tf.constant(rng.normal(size=(2, 5, 5, 8)), tf.float32)
        logits = tf.constant(3 * rng.normal(size=(2, 1, 1, 8)), tf.float32)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([features, logits])
            fused = SelectKernels()([tf.cast(features, dtype), logits]) + SplitSumPool()(tf.cast(features, dtype))
            weights = tf.nn.softmax(tf.stack(tf.split(logits, 2, axis=-1)), axis=0)
            u1, u2 = tf.split(features, 2, axis=-1)
            plain = weights[0] * u1 + weights[1] * u2 + tf.reduce_mean(u1 + u2, axis=[1, 2], keepdims=True)
            fused_loss = tf.reduce_sum(tf.cast(fused, tf.float32) * tf.range(1.0, 5.0))
            plain_loss = tf.reduce_sum(plain * tf.range(1.0, 5.0))
        ours_and_theirs = zip(tape.gradient(fused_loss, [features, logits]),
                              tape.gradient(plain_loss, [features, logits]))
        for ours, theirs in ours_and_theirs:
            np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=tolerance, atol=tolerance)


def expected_keep_fraction(height, width, block, keep_prob, gamma_scale=1.0):
    """Exact E[kept] of the original's construction: each pixel survives the seeds covering it."""
    valid_h, valid_w = height - block + 1, width - block + 1
    gamma = gamma_scale * (1 - keep_prob) * height * width / block ** 2 / (valid_h * valid_w)
    cover = np.zeros((height, width))
    for a in range(valid_h):
        for b in range(valid_w):
            cover[a:a + block, b:b + block] += 1
    return float(np.mean((1 - gamma) ** cover))


@pytest.mark.parametrize("keep_prob,gamma_scale", [(0.9, 1.0), (0.7, 1.0), (0.8, 0.25)])
def test_dropblock_keeps_the_expected_fraction(keep_prob, gamma_scale):
    layer = DropBlock(KeepProbability(keep_prob), block_size=7, gamma_scale=gamma_scale, seed=3)
    ones = tf.ones((2, 28, 28, 512))
    kept = np.mean([np.mean(layer(ones, training=True).numpy() > 0) for _ in range(4)])
    expected = expected_keep_fraction(28, 28, 7, keep_prob, gamma_scale)
    assert abs(kept - expected) <= 0.02 * expected
    assert kept >= keep_prob  # overlaps make the original drop a little less than 1 - keep_prob


def test_dropblock_drops_square_blocks_shared_across_the_batch_and_rescales():
    layer = DropBlock(KeepProbability(0.8), block_size=3, gamma_scale=1.0, shared_mask=True, seed=5)
    out = layer(tf.ones((4, 16, 16, 8)), training=True).numpy()
    for sample in out[1:]:
        np.testing.assert_array_equal(sample, out[0])
    assert abs(out.mean() - 1.0) < 1e-4  # numel / sum(mask) rescaling
    dropped = out[0, :, :, 0] == 0
    rows, cols = np.nonzero(dropped)
    r, c = rows.min(), cols[rows == rows.min()].min()  # top-left corner of the first block
    assert dropped[r:r + 3, c:c + 3].all()
    per_sample = DropBlock(KeepProbability(0.8), block_size=3, shared_mask=False, seed=5)
    out = per_sample(tf.ones((4, 16, 16, 8)), training=True).numpy()
    assert not np.array_equal(out[0], out[1])


def test_dropblock_is_the_identity_at_keep_prob_one_and_in_inference():
    x = tf.random.normal((2, 14, 14, 4))
    keep = KeepProbability(1.0)
    layer = DropBlock(keep, block_size=7, gamma_scale=1.0, seed=1)
    np.testing.assert_array_equal(layer(x, training=True).numpy(), x.numpy())
    keep.assign(0.5)
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x.numpy())
    assert np.any(layer(x, training=True).numpy() != x.numpy())


def test_fused_batch_norm_matches_keras_and_tf1_moving_average():
    rng = np.random.default_rng(2)
    x = rng.normal(3.0, 2.0, (8, 5, 5, 4)).astype("float32")
    ours, ref = BatchNorm(momentum=0.9, epsilon=1e-5), keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
    for layer in (ours, ref):
        layer.build(x.shape)
        layer.gamma.assign(rng.uniform(0.5, 1.5, 4).astype("float32"))
        layer.beta.assign([0.1, -0.2, 0.3, 0.0])
    ref.gamma.assign(ours.gamma.numpy())
    np.testing.assert_allclose(ours(x, training=True).numpy(), ref(x, training=True).numpy(), atol=1e-4)
    np.testing.assert_allclose(ours.moving_mean.numpy(), ref.moving_mean.numpy(), rtol=1e-5)
    n = x.size // 4  # TF1's fused BN feeds the unbiased batch variance to the moving average
    batch_var = x.var(axis=(0, 1, 2))
    np.testing.assert_allclose(ours.moving_variance.numpy(), 0.9 + 0.1 * batch_var * n / (n - 1), rtol=1e-5)
    mean, var = ours.moving_mean.numpy(), ours.moving_variance.numpy()
    expected = (x - mean) / np.sqrt(var + 1e-5) * ours.gamma.numpy() + ours.beta.numpy()
    np.testing.assert_allclose(ours(x, training=False).numpy(), expected, rtol=1e-4, atol=1e-4)

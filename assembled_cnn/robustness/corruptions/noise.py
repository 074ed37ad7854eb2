"""Noise corruptions (fast TF versions): gaussian, shot, impulse, speckle.

Images are ``[B, H, W, C]`` float32 in [0, 1]; seeds ``[B, 2]`` int64. Parameters are
Hendrycks & Dietterich's (identical in imagecorruptions).
"""

from __future__ import annotations

import tensorflow as tf

from assembled_cnn.robustness.corruptions._tf_ops import per_image, stream_seeds

GAUSSIAN_NOISE_SIGMA = (0.08, 0.12, 0.18, 0.26, 0.38)
SHOT_NOISE_PHOTONS = (60, 25, 12, 5, 3)
IMPULSE_NOISE_AMOUNT = (0.03, 0.06, 0.09, 0.17, 0.27)
SPECKLE_NOISE_SIGMA = (0.15, 0.2, 0.35, 0.45, 0.6)


def _normal_like(x: tf.Tensor, seeds: tf.Tensor) -> tf.Tensor:
    shape = tf.shape(x)[1:]
    return per_image(lambda s: tf.random.stateless_normal(shape, s), seeds)


def _uniform_like(x: tf.Tensor, seeds: tf.Tensor) -> tf.Tensor:
    shape = tf.shape(x)[1:]
    return per_image(lambda s: tf.random.stateless_uniform(shape, s), seeds)


def gaussian_noise(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    sigma = GAUSSIAN_NOISE_SIGMA[severity - 1]
    return x + sigma * _normal_like(x, seeds)


def shot_noise(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    """Poisson photon counts with ``c`` photons at full intensity."""
    photons = float(SHOT_NOISE_PHOTONS[severity - 1])

    def draw(args):
        image, seed = args
        lam = image * photons
        return tf.random.stateless_poisson(tf.shape(image), seed, lam, dtype=tf.float32)

    counts = tf.map_fn(draw, (x, seeds), fn_output_signature=tf.float32)
    return counts / photons


def impulse_noise(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    """Salt & pepper per value (pixel *and* channel), half salt, as ``skimage.util.random_noise``."""
    amount = IMPULSE_NOISE_AMOUNT[severity - 1]
    flipped = _uniform_like(x, stream_seeds(seeds, 1)) < amount
    salted = _uniform_like(x, stream_seeds(seeds, 2)) < 0.5
    x = tf.where(flipped & salted, tf.ones_like(x), x)
    return tf.where(flipped & ~salted, tf.zeros_like(x), x)


def speckle_noise(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    sigma = SPECKLE_NOISE_SIGMA[severity - 1]
    return x + x * sigma * _normal_like(x, seeds)

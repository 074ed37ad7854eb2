"""Noise corruptions (fast TF versions): gaussian, shot, impulse, speckle.

Images are ``[B, H, W, C]`` float32 in [0, 1]; seeds ``[B, 2]`` int64. Parameters are
Hendrycks & Dietterich's (identical in imagecorruptions).
"""

from __future__ import annotations

import tensorflow as tf

from assembled_cnn.robustness.corruptions._poisson import poisson_from_levels
from assembled_cnn.robustness.corruptions._tf_ops import image_shape, per_image, stream_seeds

GAUSSIAN_NOISE_SIGMA = (0.08, 0.12, 0.18, 0.26, 0.38)
SHOT_NOISE_PHOTONS = (60, 25, 12, 5, 3)
IMPULSE_NOISE_AMOUNT = (0.03, 0.06, 0.09, 0.17, 0.27)
SPECKLE_NOISE_SIGMA = (0.15, 0.2, 0.35, 0.45, 0.6)


def _normal_like(x: tf.Tensor, seeds: tf.Tensor) -> tf.Tensor:
    shape = image_shape(x)
    return per_image(lambda s: tf.random.stateless_normal(shape, s), seeds)


def _uniform_like(x: tf.Tensor, seeds: tf.Tensor) -> tf.Tensor:
    shape = image_shape(x)
    return per_image(lambda s: tf.random.stateless_uniform(shape, s), seeds)


# Each corruption is ``<name>_apply(x, <name>_draws(x, seeds, severity), severity)``: the
# draws use TF's stateless kernels, the rest is compiled with XLA by the registry.


def gaussian_noise(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    return gaussian_noise_apply(x, gaussian_noise_draws(x, seeds, severity), severity)


def gaussian_noise_draws(x: tf.Tensor, seeds: tf.Tensor, severity: int):
    return (_normal_like(x, seeds),)


def gaussian_noise_apply(x: tf.Tensor, draws, severity: int) -> tf.Tensor:
    return x + GAUSSIAN_NOISE_SIGMA[severity - 1] * draws[0]


def shot_noise(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    return shot_noise_apply(x, shot_noise_draws(x, seeds, severity), severity)


def shot_noise_draws(x: tf.Tensor, seeds: tf.Tensor, severity: int):
    """Poisson photon counts with ``c`` photons at full intensity.

    Images on the 8-bit grid (every uint8 input) use the exact table sampler of `_poisson`
    (one uniform per value); other float images use TF's `stateless_poisson`.
    """
    photons = float(SHOT_NOISE_PHOTONS[severity - 1])
    scaled = x * 255.0
    levels = tf.round(scaled)
    on_grid = tf.reduce_all(tf.abs(scaled - levels) < 1e-3)
    shape = image_shape(x)

    def from_table():
        bits = per_image(lambda s: tf.random.stateless_uniform(shape, s, minval=None, maxval=None,
                                                               dtype=tf.uint32), seeds, dtype=tf.uint32)
        return poisson_from_levels(tf.cast(levels, tf.int32), bits, photons)

    def from_tf_sampler():
        def draw(args):
            image, seed = args
            return tf.random.stateless_poisson(tf.shape(image), seed, image * photons, dtype=tf.float32)

        return tf.map_fn(draw, (x, seeds), fn_output_signature=tf.float32)

    return (tf.cond(on_grid, from_table, from_tf_sampler),)


def shot_noise_apply(x: tf.Tensor, draws, severity: int) -> tf.Tensor:
    del x
    return draws[0] / float(SHOT_NOISE_PHOTONS[severity - 1])


def impulse_noise(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    return impulse_noise_apply(x, impulse_noise_draws(x, seeds, severity), severity)


def impulse_noise_draws(x: tf.Tensor, seeds: tf.Tensor, severity: int):
    del severity
    return _uniform_like(x, stream_seeds(seeds, 1)), _uniform_like(x, stream_seeds(seeds, 2))


def impulse_noise_apply(x: tf.Tensor, draws, severity: int) -> tf.Tensor:
    """Salt & pepper per value (pixel *and* channel), half salt, as ``skimage.util.random_noise``."""
    amount = IMPULSE_NOISE_AMOUNT[severity - 1]
    flipped = draws[0] < amount
    salted = draws[1] < 0.5
    x = tf.where(flipped & salted, tf.ones_like(x), x)
    return tf.where(flipped & ~salted, tf.zeros_like(x), x)


def speckle_noise(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    return speckle_noise_apply(x, speckle_noise_draws(x, seeds, severity), severity)


def speckle_noise_draws(x: tf.Tensor, seeds: tf.Tensor, severity: int):
    return (_normal_like(x, seeds),)


def speckle_noise_apply(x: tf.Tensor, draws, severity: int) -> tf.Tensor:
    return x + x * SPECKLE_NOISE_SIGMA[severity - 1] * draws[0]

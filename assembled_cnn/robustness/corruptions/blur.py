"""Blur corruptions (fast TF versions): defocus, glass, motion, zoom, gaussian.

Images are ``[B, H, W, C]`` float32 in [0, 1]; seeds ``[B, 2]`` int64.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from assembled_cnn.robustness.corruptions import _tf_ops as ops

DEFOCUS_RADIUS_ALIAS = ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5))
GLASS_SIGMA_DELTA_ITERS = ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2))
MOTION_RADIUS_SIGMA = ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15))
ZOOM_RANGES = ((1.11, 0.01), (1.16, 0.01), (1.21, 0.02), (1.26, 0.02), (1.31, 0.03))
GAUSSIAN_BLUR_SIGMA = (1, 2, 3, 4, 6)


def zoom_factors(severity: int) -> np.ndarray:
    stop, step = ZOOM_RANGES[severity - 1]
    return np.arange(1, stop, step)


def opencv_gaussian_kernel(size: int, sigma: float) -> np.ndarray:
    """``cv2.getGaussianKernel(size, sigma)`` for sigma > 0."""
    offsets = np.arange(size) - (size - 1) / 2.0
    kernel = np.exp(-(offsets ** 2) / (2.0 * sigma ** 2))
    return kernel / kernel.sum()


def defocus_kernel(radius: int, alias_blur: float) -> np.ndarray:
    """Hendrycks' anti-aliased disk: a binary disk (grid at least 17 px) smoothed by a
    small Gaussian with OpenCV's reflect-101 border."""
    half = max(radius, 8)
    grid = np.arange(-half, half + 1)
    xx, yy = np.meshgrid(grid, grid)
    disk = (xx ** 2 + yy ** 2 <= radius ** 2).astype(np.float64)
    disk /= disk.sum()
    size = 3 if radius <= 8 else 5
    g = opencv_gaussian_kernel(size, alias_blur)
    padded = np.pad(disk, size // 2, mode="reflect")
    rows = sum(g[i] * padded[i:i + disk.shape[0], :] for i in range(size))
    return sum(g[j] * rows[:, j:j + disk.shape[1]] for j in range(size))


def defocus_blur(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    del seeds
    radius, alias_blur = DEFOCUS_RADIUS_ALIAS[severity - 1]
    return ops.depthwise_filter(x, defocus_kernel(radius, alias_blur), "mirror")


def gaussian_blur(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    del seeds
    return ops.gaussian_blur(x, GAUSSIAN_BLUR_SIGMA[severity - 1])


def _glass_sources(seed: tf.Tensor, height, width, delta: int, jumps: int) -> tf.Tensor:
    """Flat source index of every pixel after one pass of Hendrycks' shuffle loop.

    The loop visits interior pixels from bottom-right to top-left and runs
    ``x[h, w], x[h', w'] = x[h', w'], x[h, w]`` on channel *views*, which copies the
    partner's current value instead of swapping. So a pixel's source is its partner, or,
    if the partner was visited earlier (larger raster index), the partner's own source.
    Following those chains by pointer doubling gives exactly the serial result in
    ``jumps`` parallel steps (chains up to 2**jumps long)."""
    size = height * width
    flat = tf.range(size)
    rows, cols = flat // width, flat % width
    visited = (rows > delta) & (rows <= height - delta) & (cols > delta) & (cols <= width - delta)
    offsets = tf.random.stateless_uniform(tf.stack([size, 2]), seed, -delta, delta, dtype=tf.int32)
    partner = tf.clip_by_value(rows + offsets[:, 0], 0, height - 1) * width + \
        tf.clip_by_value(cols + offsets[:, 1], 0, width - 1)
    partner_visited = tf.gather(visited, partner)
    source = tf.where(visited, partner, flat)
    final = ~visited | ~(partner_visited & (partner > flat))
    for _ in range(jumps):
        source, final = (tf.where(final, source, tf.gather(source, source)),
                         final | tf.gather(final, source))
    return source


def _local_shuffle(x: tf.Tensor, seeds: tf.Tensor, delta: int, iterations: int) -> tf.Tensor:
    """All passes of the local pixel shuffling as gathers (see :func:`_glass_sources`)."""
    height, width = ops.image_hw(x)
    flat = tf.reshape(x, tf.stack([tf.shape(x)[0], height * width, -1]))
    for iteration in range(iterations):
        sources = ops.per_image(
            lambda s: _glass_sources(s, height, width, delta, jumps=16),
            ops.stream_seeds(seeds, iteration), tf.int32)
        flat = tf.gather(flat, sources, axis=1, batch_dims=1)
    return tf.reshape(flat, tf.shape(x))


def glass_blur(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    sigma, delta, iterations = GLASS_SIGMA_DELTA_ITERS[severity - 1]
    x = tf.floor(tf.clip_by_value(ops.gaussian_blur(x, sigma), 0.0, 1.0) * 255.0) / 255.0
    x = _local_shuffle(x, seeds, delta, iterations)
    return ops.gaussian_blur(x, sigma)


def motion_blur(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    radius, sigma = MOTION_RADIUS_SIGMA[severity - 1]
    angles = ops.per_image(lambda s: tf.random.stateless_uniform([], s, -45.0, 45.0), seeds)
    return ops.motion_blur(x, radius, sigma, angles)


def zoom_blur(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    del seeds
    height, width = ops.image_hw(x)
    factors = zoom_factors(severity)
    total = x
    for factor in factors:
        total = total + ops.clipped_zoom(x, float(factor), height, width)
    return total / float(len(factors) + 1)

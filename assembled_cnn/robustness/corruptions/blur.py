"""Blur corruptions (fast TF versions): defocus, glass, motion, zoom, gaussian.

Images are ``[B, H, W, C]`` float32 in [0, 1]; seeds ``[B, 2]`` int64.
"""

from __future__ import annotations

import functools

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
    return defocus_blur_apply(x, (), severity)


def defocus_blur_apply(x: tf.Tensor, draws, severity: int) -> tf.Tensor:
    """The 17..21 px disk is not separable: FFT convolution when H and W are static
    (float32 round-off only, PSNR > 100 dB against the direct filter), else direct."""
    del draws
    radius, alias_blur = DEFOCUS_RADIUS_ALIAS[severity - 1]
    kernel = defocus_kernel(radius, alias_blur)
    if x.shape[1] is not None and x.shape[2] is not None:
        return ops.fft_filter(x, kernel, "mirror")
    return ops.depthwise_filter(x, kernel, "mirror")


def gaussian_blur(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    return gaussian_blur_apply(x, (), severity)


def gaussian_blur_apply(x: tf.Tensor, draws, severity: int) -> tf.Tensor:
    del draws
    return ops.gaussian_blur(x, GAUSSIAN_BLUR_SIGMA[severity - 1], shifts=True)


def _glass_sources(offsets: tf.Tensor, height, width, delta: int):
    """First-hop source index ``[B, H*W]`` of every pixel for one pass of Hendrycks' shuffle
    loop, and whether that hop is already final (see :func:`_follow_chains`), from the
    per-image random offsets ``[B, H*W, 2]``.

    The loop visits interior pixels from bottom-right to top-left and runs
    ``x[h, w], x[h', w'] = x[h', w'], x[h, w]`` on channel *views*, which copies the
    partner's current value instead of swapping. So a pixel's source is its partner, or,
    if the partner was visited earlier (larger raster index), the partner's own source.
    Following those chains by pointer doubling gives exactly the serial result in
    a few parallel steps (chains up to 2**jumps long)."""
    size = height * width
    flat = tf.range(size)
    rows, cols = flat // width, flat % width
    visited = (rows > delta) & (rows <= height - delta) & (cols > delta) & (cols <= width - delta)
    partner = tf.clip_by_value(rows + offsets[..., 0], 0, height - 1) * width + \
        tf.clip_by_value(cols + offsets[..., 1], 0, width - 1)
    partner_visited = tf.gather(visited, partner)
    source = tf.where(visited, partner, flat)
    final = ~visited | ~(partner_visited & (partner > flat))
    return source, final


def _follow_chains(source: tf.Tensor, final: tf.Tensor, jumps: int) -> tf.Tensor:
    """Pointer doubling on a batch ``[B, N]``; stops as soon as every chain is resolved
    (further jumps would not change ``source``), after at most ``jumps`` steps."""

    def step(i, source, final):
        return (i + 1, tf.where(final, source, tf.gather(source, source, batch_dims=1)),
                final | tf.gather(final, source, batch_dims=1))

    _, source, _ = tf.while_loop(
        lambda i, source, final: (i < jumps) & ~tf.reduce_all(final), step,
        (tf.constant(0), source, final))
    return source


def _glass_draws_all(x: tf.Tensor, seeds: tf.Tensor, delta: int, iterations: int):
    """Per pass, the flat source index of every pixel ``[B, H*W]`` (random, image-independent)."""
    height, width = ops.static_or_dynamic_hw(x)
    out = []
    for iteration in range(iterations):
        offsets = ops.per_image(
            lambda s: tf.random.stateless_uniform(tf.stack([height * width, 2]), s, -delta, delta,
                                                  dtype=tf.int32),
            ops.stream_seeds(seeds, iteration), tf.int32)
        out.append(_glass_chains_fn(delta, ops.use_xla(height, width))(offsets, height, width))
    return out


@functools.lru_cache(maxsize=None)
def _glass_chains_fn(delta: int, jit: bool):
    """Sources from offsets (with XLA on large images: its gathers are ~3x faster here)."""

    def chains(offsets, height, width):
        source, final = _glass_sources(offsets, height, width, delta)
        return _follow_chains(source, final, jumps=16)

    return ops.maybe_jit(chains, jit)


def _local_shuffle(x: tf.Tensor, sources) -> tf.Tensor:
    """All passes of the local pixel shuffling as gathers (see :func:`_glass_sources`)."""
    height, width = ops.image_hw(x)
    flat = tf.reshape(x, tf.stack([tf.shape(x)[0], height * width, -1]))
    for pass_sources in sources:
        flat = tf.gather(flat, pass_sources, axis=1, batch_dims=1)
    return tf.reshape(flat, tf.shape(x))


def glass_blur(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    return glass_blur_apply(x, glass_blur_draws(x, seeds, severity), severity)


def glass_blur_draws(x: tf.Tensor, seeds: tf.Tensor, severity: int):
    _, delta, iterations = GLASS_SIGMA_DELTA_ITERS[severity - 1]
    return _glass_draws_all(x, seeds, delta, iterations)


def glass_blur_apply(x: tf.Tensor, draws, severity: int) -> tf.Tensor:
    sigma, _, _ = GLASS_SIGMA_DELTA_ITERS[severity - 1]
    x = ops.gaussian_blur(x, sigma, shifts=True)
    x = ops.materialize(tf.floor(tf.clip_by_value(x, 0.0, 1.0) * 255.0) / 255.0)
    x = ops.materialize(_local_shuffle(x, draws))
    return ops.gaussian_blur(x, sigma, shifts=True)


def motion_blur(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    return motion_blur_apply(x, motion_blur_draws(x, seeds, severity), severity)


def motion_blur_draws(x: tf.Tensor, seeds: tf.Tensor, severity: int):
    del x, severity
    return (ops.per_image(lambda s: tf.random.stateless_uniform([], s, -45.0, 45.0), seeds),)


def motion_blur_apply(x: tf.Tensor, draws, severity: int) -> tf.Tensor:
    radius, sigma = MOTION_RADIUS_SIGMA[severity - 1]
    return ops.motion_blur(ops.materialize(x), radius, sigma, draws[0])


def zoom_blur(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    return zoom_blur_apply(x, (), severity)


def zoom_blur_apply(x: tf.Tensor, draws, severity: int) -> tf.Tensor:
    del draws
    height, width = ops.image_hw(x)
    factors = zoom_factors(severity)
    total = x
    for factor in factors:
        total = total + ops.clipped_zoom(x, float(factor), height, width)
    return total / float(len(factors) + 1)

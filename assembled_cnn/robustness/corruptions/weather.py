"""Weather corruptions (fast TF versions): snow, frost, fog, spatter.

Images are ``[B, H, W, 3]`` float32 in [0, 1] (grayscale is expanded by the registry);
seeds ``[B, 2]`` int64. Geometry follows imagecorruptions (any size >= 32 px).
"""

from __future__ import annotations

import functools
import math
import os

import numpy as np
import tensorflow as tf

from assembled_cnn.robustness.corruptions import _tf_ops as ops
from assembled_cnn.robustness.corruptions._spatter_ops import water_mask

SNOW_PARAMS = ((0.1, 0.3, 3, 0.5, 10, 4, 0.8), (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
               (0.55, 0.3, 4, 0.9, 12, 8, 0.7), (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
               (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55))
FROST_IMAGE_WEIGHTS = ((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75))
FOG_STRENGTH_DECAY = ((1.5, 2), (2.0, 2), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4))
SPATTER_PARAMS = ((0.65, 0.3, 4, 0.69, 0.6, 0), (0.65, 0.3, 3, 0.68, 0.6, 0),
                  (0.65, 0.3, 2, 0.68, 0.5, 0), (0.65, 0.3, 1, 0.65, 1.5, 1),
                  (0.67, 0.4, 1, 0.65, 1.5, 1))
FROST_FILES = ("frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg", "frost6.jpg")
FROST_DIR = os.path.join(os.path.dirname(__file__), "frost")
WATER_COLOR = (175 / 255.0, 238 / 255.0, 238 / 255.0)
MUD_COLOR = (63 / 255.0, 42 / 255.0, 20 / 255.0)


def _uniform_scalars(seeds: tf.Tensor, low: float, high: float) -> tf.Tensor:
    return ops.per_image(lambda s: tf.random.stateless_uniform([], s, low, high), seeds)


def snow(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    return snow_apply(x, snow_draws(x, seeds, severity), severity)


def snow_draws(x: tf.Tensor, seeds: tf.Tensor, severity: int):
    """The snow layer ``[B, H, W, 1]`` (it depends only on the seeds) and its 180-degree
    rotation. The normal draw and the angles use TF's kernels; zoom, threshold and motion
    blur run in their own XLA function, and the rotation outside XLA (XLA would fuse the
    whole motion blur into a reversed gather, an order of magnitude slower)."""
    loc, scale = SNOW_PARAMS[severity - 1][:2]
    height, width = ops.static_or_dynamic_hw(x)
    shape = [height, width, 1] if isinstance(height, int) and isinstance(width, int) else \
        tf.stack([height, width, 1])
    layer = ops.per_image(lambda s: loc + scale * tf.random.stateless_normal(shape, s), seeds)
    angles = _uniform_scalars(ops.stream_seeds(seeds, 1), -135.0, -45.0)
    layer = _snow_layer_fn(severity, ops.use_xla(height, width))(layer, angles)
    return layer, tf.reverse(layer, axis=[1, 2])


@functools.lru_cache(maxsize=None)
def _snow_layer_fn(severity: int, jit: bool):
    _, _, zoom, threshold, radius, sigma, _ = SNOW_PARAMS[severity - 1]

    def layer_fn(layer, angles):
        height, width = ops.image_hw(layer)
        layer = ops.clipped_zoom(layer, float(zoom), height, width)
        layer = tf.clip_by_value(tf.where(layer < threshold, 0.0, layer), 0.0, 1.0)
        layer = ops.motion_blur(ops.materialize(layer), radius, sigma, angles)
        return tf.round(layer * 255.0) / 255.0

    return ops.maybe_jit(layer_fn, jit)


def snow_apply(x: tf.Tensor, draws, severity: int) -> tf.Tensor:
    keep = SNOW_PARAMS[severity - 1][-1]
    layer, rotated = draws
    gray = ops.rgb_to_gray(x, ops.CV_GRAY_WEIGHTS)
    x = keep * x + (1.0 - keep) * tf.maximum(x, gray * 1.5 + 0.5)
    return x + layer + rotated


@functools.lru_cache(maxsize=None)
def frost_textures() -> tuple[np.ndarray, ...]:
    """The six frost photographs (RGB uint8) vendored from imagecorruptions (Apache-2.0)."""
    textures = []
    for name in FROST_FILES:
        with open(os.path.join(FROST_DIR, name), "rb") as handle:
            data = handle.read()
        with tf.init_scope():
            textures.append(tf.io.decode_image(data, channels=3, expand_animations=False).numpy())
    return tuple(textures)


def _frost_scale(texture_hw, height, width) -> float:
    """imagecorruptions' rule: grow the texture to cover the image, then always by 1.1."""
    return 1.1 * max(1.0, height / texture_hw[0], width / texture_hw[1])


@functools.lru_cache(maxsize=16)
def _scaled_frost_textures(height: int, width: int) -> tuple[np.ndarray, ...]:
    scaled = []
    for texture in frost_textures():
        factor = _frost_scale(texture.shape, height, width)
        size = [int(math.ceil(texture.shape[0] * factor)), int(math.ceil(texture.shape[1] * factor))]
        with tf.init_scope():
            resized = tf.image.resize(tf.cast(texture, tf.float32), size, method="bicubic")
            scaled.append(np.clip(resized.numpy(), 0, 255).astype(np.float32))
    return tuple(scaled)


def frost(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    """Blend with a random crop of one of six frost photos (bicubic-resized by 1.1)."""
    return frost_apply(x, frost_draws(x, seeds, severity), severity)


def frost_apply(x: tf.Tensor, draws, severity: int) -> tf.Tensor:
    image_weight, frost_weight = FROST_IMAGE_WEIGHTS[severity - 1]
    return image_weight * x + frost_weight * draws[0] / 255.0


def frost_draws(x: tf.Tensor, seeds: tf.Tensor, severity: int):
    """The random crops ``[B, H, W, 3]`` (0..255) of the chosen frost textures."""
    del severity
    height, width = x.shape[1], x.shape[2]
    if height is None or width is None:
        raise ValueError("frost needs a static image height and width (set the shape, "
                         "e.g. crop to a fixed size, before corrupting)")
    textures = [tf.constant(t) for t in _scaled_frost_textures(int(height), int(width))]

    def crop_one(seed):
        choice = ops.uniform_ints(ops.stream_seeds(seed[None], 0)[0], 0, len(textures))
        top_seed = ops.stream_seeds(seed[None], 1)[0]
        left_seed = ops.stream_seeds(seed[None], 2)[0]

        def branch(texture):
            top = ops.uniform_ints(top_seed, 0, max(texture.shape[0] - height, 1))
            left = ops.uniform_ints(left_seed, 0, max(texture.shape[1] - width, 1))
            return lambda: tf.slice(texture, tf.stack([top, left, 0]), [height, width, 3])

        return tf.switch_case(choice, [branch(t) for t in textures])

    return (ops.per_image(crop_one, seeds),)


def plasma_fractal(seeds: tf.Tensor, map_size: int, decay: float) -> tf.Tensor:
    """Diamond-square height maps ``[B, map_size, map_size]`` in [0, 1] with wrap-around,
    built coarse to fine by interleaving corner, centre and edge grids."""
    return plasma_fractal_build(plasma_fractal_draws(seeds, map_size, decay), decay)


def _fractal_levels(map_size: int) -> int:
    level = 0
    while (map_size >> level) >= 2:
        level += 1
    return level


def plasma_fractal_draws(seeds: tf.Tensor, map_size: int, decay: float):
    """The uniform draws of every level: 3 per level, ``[B, 2**level, 2**level]`` in
    [-wibble, wibble) with the level's wibble = 100 / decay**level."""
    draws = []
    wibble = 100.0
    for level in range(_fractal_levels(map_size)):
        size = 1 << level
        draws.extend(ops.per_image(
            lambda s: tf.random.stateless_uniform([size, size], s, -wibble, wibble),
            ops.stream_seeds(seeds, 3 * level + k)) for k in range(3))
        wibble /= decay
    return draws


def plasma_fractal_build(draws, decay: float) -> tf.Tensor:
    grid = tf.zeros_like(draws[0])
    wibble = 100.0
    for level in range(len(draws) // 3):
        size = 1 << level
        noise = draws[3 * level:3 * level + 3]
        square = grid + tf.roll(grid, -1, axis=1)
        square = square + tf.roll(square, -1, axis=2)
        centres = square / 4.0 + wibble * noise[0]
        row_edges = (centres + tf.roll(centres, 1, axis=1) + grid + tf.roll(grid, -1, axis=2))
        col_edges = (centres + tf.roll(centres, 1, axis=2) + grid + tf.roll(grid, -1, axis=1))
        row_edges = row_edges / 4.0 + wibble * noise[1]
        col_edges = col_edges / 4.0 + wibble * noise[2]
        even_rows = tf.reshape(tf.stack([grid, row_edges], axis=-1), [-1, size, 2 * size])
        odd_rows = tf.reshape(tf.stack([col_edges, centres], axis=-1), [-1, size, 2 * size])
        grid = tf.reshape(tf.stack([even_rows, odd_rows], axis=2), [-1, 2 * size, 2 * size])
        wibble /= decay
    grid = grid - tf.reduce_min(grid, axis=[1, 2], keepdims=True)
    return grid / tf.reduce_max(grid, axis=[1, 2], keepdims=True)


def _fog_map_size(x: tf.Tensor) -> int:
    height, width = x.shape[1], x.shape[2]
    if height is None or width is None:
        raise ValueError("fog needs a static image height and width (set the shape before "
                         "corrupting)")
    return 1 << (max(int(height), int(width)) - 1).bit_length()


def fog(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    return fog_apply(x, fog_draws(x, seeds, severity), severity)


def fog_draws(x: tf.Tensor, seeds: tf.Tensor, severity: int):
    return plasma_fractal_draws(seeds, _fog_map_size(x), FOG_STRENGTH_DECAY[severity - 1][1])


def fog_apply(x: tf.Tensor, draws, severity: int) -> tf.Tensor:
    strength, decay = FOG_STRENGTH_DECAY[severity - 1]
    height, width = x.shape[1], x.shape[2]
    fractal = plasma_fractal_build(list(draws), decay)[:, :height, :width, None]
    max_value = tf.reduce_max(x, axis=[1, 2, 3], keepdims=True)
    x = x + strength * fractal
    return x * max_value / (max_value + strength)


def spatter(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    loc, scale, sigma, threshold, intensity, is_mud = SPATTER_PARAMS[severity - 1]
    height, width = ops.image_hw(x)
    shape = tf.stack([height, width, 1])
    liquid = ops.per_image(lambda s: loc + scale * tf.random.stateless_normal(shape, s), seeds)
    liquid = ops.gaussian_blur(liquid, sigma)
    liquid = tf.where(liquid < threshold, 0.0, liquid)
    if not is_mud:
        mask = water_mask(liquid) * intensity
        return x + mask * tf.constant(WATER_COLOR, tf.float32)
    mask = ops.gaussian_blur(tf.cast(liquid > threshold, tf.float32), intensity)
    mask = tf.where(mask < 0.8, 0.0, mask)
    return x * (1.0 - mask) + mask * tf.constant(MUD_COLOR, tf.float32)

"""Random erasing (Zhong et al., arXiv 1708.04896), timm-style, on a normalised float image.

It runs after normalisation, so ``const`` mode fills 0 (the mean), ``rand`` fills one
normal random value per channel and ``pixel`` fills per-pixel normal noise.  Like timm,
each of ``count`` regions tries up to ``attempts`` random (area, log-aspect) draws and
keeps the first that fits inside the image; none fitting means nothing is erased.
"""

from __future__ import annotations

import dataclasses
import math

import tensorflow as tf

from assembled_cnn.preprocessing import seeds as seeds_lib

ERASE_MODES = ("const", "rand", "pixel")


@dataclasses.dataclass(frozen=True)
class RandomErasingConfig:
    probability: float = 0.25
    mode: str = "pixel"
    min_area: float = 0.02
    max_area: float = 1.0 / 3.0
    min_aspect: float = 0.3
    max_aspect: float | None = None  # None: 1 / min_aspect
    count: int = 1
    attempts: int = 10

    def __post_init__(self):
        if self.mode not in ERASE_MODES:
            raise ValueError(f"random erasing mode={self.mode!r}; choose one of {ERASE_MODES}")
        if not 0.0 < self.min_area <= self.max_area <= 1.0:
            raise ValueError(f"random erasing needs 0 < min_area <= max_area <= 1, got "
                             f"min_area={self.min_area}, max_area={self.max_area}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"random erasing probability={self.probability} is not in [0, 1]")


def _sample_box(shape, config: RandomErasingConfig, seed):
    """(top, left, height, width, found) for one region, trying ``attempts`` draws at once."""
    height, width = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
    seed_area, seed_aspect, seed_top, seed_left = seeds_lib.split_seed(seed, 4)
    tries = [config.attempts]
    area = height * width * seeds_lib.uniform(seed_area, tries, config.min_area, config.max_area)
    max_aspect = config.max_aspect or 1.0 / config.min_aspect
    log_aspect = seeds_lib.uniform(seed_aspect, tries, math.log(config.min_aspect),
                                   math.log(max_aspect))
    aspect = tf.exp(log_aspect)
    box_h = tf.cast(tf.round(tf.sqrt(area * aspect)), tf.int32)
    box_w = tf.cast(tf.round(tf.sqrt(area / aspect)), tf.int32)
    fits = (box_h < shape[0]) & (box_w < shape[1]) & (box_h > 0) & (box_w > 0)
    first = tf.argmax(tf.cast(fits, tf.int32), output_type=tf.int32)
    box_h, box_w, found = box_h[first], box_w[first], fits[first]
    top = seeds_lib.uniform(seed_top, (), 0, tf.maximum(shape[0] - box_h + 1, 1), tf.int32)
    left = seeds_lib.uniform(seed_left, (), 0, tf.maximum(shape[1] - box_w + 1, 1), tf.int32)
    return top, left, box_h, box_w, found


def _fill_values(shape, mode: str, seed) -> tf.Tensor:
    if mode == "const":
        return tf.zeros([1, 1, shape[2]], tf.float32)
    if mode == "rand":
        return tf.random.stateless_normal([1, 1, shape[2]], seed=seed)
    return tf.random.stateless_normal(shape, seed=seed)


def erase_region(image, config: RandomErasingConfig, seed) -> tf.Tensor:
    """Erase one region unconditionally (if a box fits)."""
    image = tf.convert_to_tensor(image, tf.float32)
    shape = tf.shape(image)
    seed_box, seed_fill = seeds_lib.split_seed(seed, 2)
    top, left, box_h, box_w, found = _sample_box(shape, config, seed_box)
    rows = tf.range(shape[0])[:, None, None]
    cols = tf.range(shape[1])[None, :, None]
    inside = ((rows >= top) & (rows < top + box_h) & (cols >= left) & (cols < left + box_w)
              & found)
    fill = _fill_values(shape, config.mode, seed_fill)
    return tf.where(inside, tf.broadcast_to(fill, shape), image)


def random_erasing(image, config: RandomErasingConfig = RandomErasingConfig(),
                   seed=None) -> tf.Tensor:
    """With ``config.probability``, erase ``config.count`` rectangles of a float [H, W, C] image."""
    image = tf.convert_to_tensor(image, tf.float32)
    seed_coin, *region_seeds = seeds_lib.split_seed(seed, 1 + config.count)

    def erase_all():
        erased = image
        for region_seed in region_seeds:
            erased = erase_region(erased, config, region_seed)
        return erased

    return tf.cond(seeds_lib.bernoulli(seed_coin, config.probability), erase_all, lambda: image)

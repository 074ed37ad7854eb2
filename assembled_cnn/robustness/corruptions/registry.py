"""The corruption registry and the public ``corrupt`` entry point.

Names and order are Hendrycks & Dietterich's (and imagecorruptions'): 15 common
corruptions used by mCE, then 4 extra ("validation") ones. Randomness is stateless:
image ``index + b`` of a batch gets the seed pair
``(seed * 4096 + corruption_number * 8 + severity, index + b)``, so a result depends only on
(seed, image index, corruption, severity), never on batching or on a global RNG.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import numpy as np
import tensorflow as tf

from assembled_cnn.robustness.corruptions import blur, digital, noise, weather
from assembled_cnn.robustness.corruptions import _tf_ops as ops

FastFn = Callable[[tf.Tensor, tf.Tensor, int], tf.Tensor]
MODES = ("fast", "reference")
MIN_SIDE = 32


@dataclasses.dataclass(frozen=True)
class CorruptionSpec:
    name: str
    family: str  # noise | blur | weather | digital
    number: int  # position in the canonical order (imagecorruptions' corruption_number)
    fast_fn: FastFn
    needs_rgb: bool = False  # colour-dependent: grayscale is expanded to RGB and back
    is_random: bool = True
    # Optional split of ``fast_fn`` for speed: ``draw_fn(x01, seeds, severity)`` makes the random
    # draws with TF's stateless kernels (XLA would change the streams); ``apply_fn(x01, draws,
    # severity)`` is the deterministic rest, compiled with XLA when ``jit`` is set.
    draw_fn: Callable | None = None
    apply_fn: Callable | None = None
    jit: bool = True

    @property
    def is_common(self) -> bool:
        return self.number < 15


def _split(module, name: str):
    """``(draw_fn, apply_fn)`` when ``module`` defines ``<name>_draws`` / ``<name>_apply``."""
    return getattr(module, name + "_draws", None), getattr(module, name + "_apply", None)


_NO_JIT = {"jpeg_compression"}  # encode/decode_jpeg have no XLA kernels

_TABLE = [
    ("gaussian_noise", "noise", noise.gaussian_noise, False, True),
    ("shot_noise", "noise", noise.shot_noise, False, True),
    ("impulse_noise", "noise", noise.impulse_noise, False, True),
    ("defocus_blur", "blur", blur.defocus_blur, False, False),
    ("glass_blur", "blur", blur.glass_blur, False, True),
    ("motion_blur", "blur", blur.motion_blur, False, True),
    ("zoom_blur", "blur", blur.zoom_blur, False, False),
    ("snow", "weather", weather.snow, True, True),
    ("frost", "weather", weather.frost, True, True),
    ("fog", "weather", weather.fog, False, True),
    ("brightness", "weather", digital.brightness, True, False),
    ("contrast", "digital", digital.contrast, False, False),
    ("elastic_transform", "digital", digital.elastic_transform, False, True),
    ("pixelate", "digital", digital.pixelate, False, False),
    ("jpeg_compression", "digital", digital.jpeg_compression, False, False),
    ("speckle_noise", "noise", noise.speckle_noise, False, True),
    ("gaussian_blur", "blur", blur.gaussian_blur, False, False),
    ("spatter", "weather", weather.spatter, True, True),
    ("saturate", "digital", digital.saturate, True, False),
]

SPECS: dict[str, CorruptionSpec] = {
    name: CorruptionSpec(name, family, number, fn, needs_rgb, is_random,
                         *_split(__import__(fn.__module__, fromlist=["_"]), name),
                         jit=name not in _NO_JIT)
    for number, (name, family, fn, needs_rgb, is_random) in enumerate(_TABLE)
}
CORRUPTIONS: tuple[str, ...] = tuple(SPECS)
COMMON_CORRUPTIONS: tuple[str, ...] = CORRUPTIONS[:15]
EXTRA_CORRUPTIONS: tuple[str, ...] = CORRUPTIONS[15:]


def get_corruption_names(subset: str = "common") -> list[str]:
    """'common' (the 15 of mCE), 'extra' (alias 'validation'), 'all', or a family name."""
    if subset == "common":
        return list(COMMON_CORRUPTIONS)
    if subset in ("extra", "validation"):
        return list(EXTRA_CORRUPTIONS)
    if subset == "all":
        return list(CORRUPTIONS)
    families = {spec.family for spec in SPECS.values()}
    if subset in families:
        return [spec.name for spec in SPECS.values() if spec.family == subset and spec.is_common]
    raise ValueError(f"subset must be one of 'common', 'extra', 'all' or a family "
                     f"{sorted(families)}; got {subset!r}")


def get_spec(name: str) -> CorruptionSpec:
    if name not in SPECS:
        raise ValueError(f"unknown corruption {name!r}; choose one of {list(CORRUPTIONS)}")
    return SPECS[name]


def _check_severity(severity) -> int:
    if isinstance(severity, bool) or int(severity) != severity or not 1 <= int(severity) <= 5:
        raise ValueError(f"severity must be an integer 1..5, got {severity!r}")
    return int(severity)


def image_seeds(batch_size, seed: int, index, number: int, severity: int) -> tf.Tensor:
    """Per-image stateless seeds ``[B, 2]`` int64 (see the module docstring)."""
    key = tf.cast(seed, tf.int64) * 4096 + number * 8 + severity
    indices = tf.cast(index, tf.int64) + tf.range(tf.cast(batch_size, tf.int64))
    return tf.stack([tf.broadcast_to(key, tf.shape(indices)), indices], axis=1)


UINT8_MARGIN = 1e-4  # float32 noise must not turn an exact 37.0 into 36 on truncation


def to_output(out255: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
    """Match the input dtype; uint8 truncates like ``np.uint8(...)`` in the reference code."""
    if dtype == tf.uint8:
        return tf.cast(tf.floor(out255 + UINT8_MARGIN), tf.uint8)
    return tf.cast(out255, dtype)


def _to01(images: tf.Tensor, expand_rgb: bool) -> tf.Tensor:
    x01 = tf.cast(images, tf.float32) / 255.0
    return tf.tile(x01, [1, 1, 1, 3]) if expand_rgb else x01


def _finish(out01: tf.Tensor, expand_rgb: bool, dtype: tf.DType):
    if expand_rgb:
        weights = np.array(ops.LUMA_WEIGHTS) / sum(ops.LUMA_WEIGHTS)
        out01 = ops.rgb_to_gray(tf.clip_by_value(out01, 0.0, 1.0), tuple(weights))
    return to_output(tf.clip_by_value(out01, 0.0, 1.0) * 255.0, dtype)


@functools.lru_cache(maxsize=None)
def _apply_stage(name: str, severity: int, expand_rgb: bool, jit: bool):
    """Input conversion + deterministic part + output conversion as one function (XLA-fused
    where the corruption allows it), so no full-size intermediate is written more than needed."""
    spec = SPECS[name]

    def stage(images, *draws):
        x01 = _to01(images, expand_rgb)
        if spec.apply_fn is not None:
            out01 = spec.apply_fn(x01, draws, severity)
        else:  # no split: the whole corruption (draws included) runs here
            out01 = spec.fast_fn(x01, draws[0], severity)
        return _finish(out01, expand_rgb, images.dtype)

    return tf.function(stage, jit_compile=jit, autograph=False)


def run_fast(name: str, images: tf.Tensor, seed, index, severity: int) -> tf.Tensor:
    """``[B, H, W, C]`` images (any real dtype, 0..255) -> corrupted, same shape and dtype."""
    spec = SPECS[name]
    expand_rgb = spec.needs_rgb and images.shape[-1] == 1
    seeds = image_seeds(tf.shape(images)[0], seed, index, spec.number, severity)
    height, width = ops.static_or_dynamic_hw(images)
    jit = spec.jit and spec.apply_fn is not None and ops.use_xla(height, width)
    if spec.apply_fn is None:
        return _apply_stage(name, severity, expand_rgb, False)(images, seeds)
    draws = ()
    if spec.draw_fn is not None:
        x01 = _to01(images, expand_rgb)
        draws = tuple(spec.draw_fn(x01, seeds, severity))
    return _apply_stage(name, severity, expand_rgb, jit)(images, *draws)


@functools.lru_cache(maxsize=None)
def _compiled(name: str, severity: int):
    """One ``tf.function`` per corruption and severity; seed and index are tensors, so a new
    index does not retrace (only a new image shape or dtype does)."""
    return tf.function(lambda images, seed, index: run_fast(name, images, seed, index, severity),
                       autograph=False)

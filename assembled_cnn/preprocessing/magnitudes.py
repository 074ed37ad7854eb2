"""Named augmentation ops and the level → argument mapping used by AutoAugment/RandAugment.

A policy names an op and a level in [0, 10] (``MAX_LEVEL``).  This module turns the name
into an index into one ``tf.switch_case`` (so a policy table becomes three small tensors
and the graph holds each op once) and the level into the op's argument:

  =========================  =====================================================
  Rotate                     level/10 · 30°, random sign
  ShearX / ShearY            level/10 · 0.3, random sign
  TranslateX / TranslateY    level/10 · translate, random sign (see AugmentHParams)
  Cutout                     pad = int(level/10 · cutout), a 2·pad square of 128
  Color/Contrast/            factor = level/10 · 1.8 + 0.1
  Brightness/Sharpness
  Posterize                  bits = int(level/10 · 4)
  Solarize                   threshold = int(level/10 · 256)
  SolarizeAdd                addition = int(level/10 · 110), threshold 128
  ...Increasing (timm)       factor 1 ± level/10 · 0.9; bits 4 − int(level/10 · 4);
                             threshold 256 − int(level/10 · 256)
  AutoContrast/Equalize/     no argument
  Invert
  =========================  =====================================================
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from assembled_cnn.preprocessing import augment_ops as ops
from assembled_cnn.preprocessing import seeds as seeds_lib

MAX_LEVEL = 10.0
ORIGINAL_TRANSLATE_PIXELS = 250.0  # the original's translate_const (on 224 px images!)
ORIGINAL_CUTOUT_PIXELS = 100.0  # the original's cutout_const


@dataclasses.dataclass(frozen=True)
class AugmentHParams:
    """Magnitude constants and fill for the policy ops.

    translate_pixels / cutout_pixels: absolute sizes at level 10, as the original
      (250 px / 100 px).  None (default) scales with the image instead:
      ``translate_fraction`` / ``cutout_fraction`` times the shorter image side.
      The default 0.45 is AutoAugment's 150 px on 331 px images (and timm's
      ``translate_pct``); the original's 250 px moves a 224 px image entirely out of
      frame at level 9, so it is kept only as an option for reproduction.
      ``cutout_fraction`` 100/224 equals the original's 100 px at 224 px.
    contrast_mean_quirk: reproduce the original's Σhist/256 "mean" in Contrast.
    """

    fill_value: int = ops.FILL_VALUE
    translate_pixels: float | None = None
    translate_fraction: float = 0.45
    cutout_pixels: float | None = None
    cutout_fraction: float = ORIGINAL_CUTOUT_PIXELS / 224.0
    contrast_mean_quirk: bool = False

    @classmethod
    def original(cls) -> "AugmentHParams":
        """The assembled-cnn / tensorflow-tpu constants, quirks included."""
        return cls(translate_pixels=ORIGINAL_TRANSLATE_PIXELS,
                   cutout_pixels=ORIGINAL_CUTOUT_PIXELS, contrast_mean_quirk=True)


def _fraction(level) -> tf.Tensor:
    return tf.cast(level, tf.float32) / MAX_LEVEL


def _enhance_factor(level) -> tf.Tensor:
    return _fraction(level) * 1.8 + 0.1


def _increasing_factor(level, seed) -> tf.Tensor:
    return 1.0 + seeds_lib.random_sign(seed, _fraction(level) * 0.9)


def _scaled_size(image, pixels: float | None, fraction: float) -> tf.Tensor:
    if pixels is not None:
        return tf.constant(float(pixels), tf.float32)
    shorter = tf.cast(tf.reduce_min(tf.shape(image)[:2]), tf.float32)
    return shorter * fraction


def _int_of(value) -> tf.Tensor:
    return tf.cast(tf.floor(value), tf.int32)


def _build_op_table():
    """name → fn(image, level, seed, hparams); the order defines the switch index."""
    return {
        "AutoContrast": lambda im, lv, sd, hp: ops.autocontrast(im),
        "Equalize": lambda im, lv, sd, hp: ops.equalize(im),
        "Invert": lambda im, lv, sd, hp: ops.invert(im),
        "Rotate": lambda im, lv, sd, hp: ops.rotate(
            im, seeds_lib.random_sign(sd, _fraction(lv) * 30.0), hp.fill_value),
        "Posterize": lambda im, lv, sd, hp: ops.posterize(im, _int_of(_fraction(lv) * 4.0)),
        "Solarize": lambda im, lv, sd, hp: ops.solarize(im, _int_of(_fraction(lv) * 256.0)),
        "SolarizeAdd": lambda im, lv, sd, hp: ops.solarize_add(
            im, _int_of(_fraction(lv) * 110.0)),
        "Color": lambda im, lv, sd, hp: ops.color(im, _enhance_factor(lv)),
        "Contrast": lambda im, lv, sd, hp: ops.contrast(
            im, _enhance_factor(lv), hp.contrast_mean_quirk),
        "Brightness": lambda im, lv, sd, hp: ops.brightness(im, _enhance_factor(lv)),
        "Sharpness": lambda im, lv, sd, hp: ops.sharpness(im, _enhance_factor(lv)),
        "ShearX": lambda im, lv, sd, hp: ops.shear_x(
            im, seeds_lib.random_sign(sd, _fraction(lv) * 0.3), hp.fill_value),
        "ShearY": lambda im, lv, sd, hp: ops.shear_y(
            im, seeds_lib.random_sign(sd, _fraction(lv) * 0.3), hp.fill_value),
        "TranslateX": lambda im, lv, sd, hp: ops.translate_x(im, seeds_lib.random_sign(
            sd, _fraction(lv) * _scaled_size(im, hp.translate_pixels, hp.translate_fraction)),
            hp.fill_value),
        "TranslateY": lambda im, lv, sd, hp: ops.translate_y(im, seeds_lib.random_sign(
            sd, _fraction(lv) * _scaled_size(im, hp.translate_pixels, hp.translate_fraction)),
            hp.fill_value),
        "Cutout": lambda im, lv, sd, hp: ops.cutout(im, _int_of(
            _fraction(lv) * _scaled_size(im, hp.cutout_pixels, hp.cutout_fraction)),
            sd, hp.fill_value),
        "PosterizeIncreasing": lambda im, lv, sd, hp: ops.posterize(
            im, 4 - _int_of(_fraction(lv) * 4.0)),
        "SolarizeIncreasing": lambda im, lv, sd, hp: ops.solarize(
            im, 256 - _int_of(_fraction(lv) * 256.0)),
        "ColorIncreasing": lambda im, lv, sd, hp: ops.color(im, _increasing_factor(lv, sd)),
        "ContrastIncreasing": lambda im, lv, sd, hp: ops.contrast(
            im, _increasing_factor(lv, sd), hp.contrast_mean_quirk),
        "BrightnessIncreasing": lambda im, lv, sd, hp: ops.brightness(
            im, _increasing_factor(lv, sd)),
        "SharpnessIncreasing": lambda im, lv, sd, hp: ops.sharpness(
            im, _increasing_factor(lv, sd)),
    }


_OP_TABLE = _build_op_table()
OP_NAMES: tuple[str, ...] = tuple(_OP_TABLE)


def op_index(name: str) -> int:
    """Index of a named op; raises with the list of valid names."""
    if name not in _OP_TABLE:
        raise ValueError(f"unknown augmentation op {name!r}; valid names: {', '.join(OP_NAMES)}")
    return OP_NAMES.index(name)


def apply_named_op(image, name: str, level, seed=None,
                   hparams: AugmentHParams = AugmentHParams()) -> tf.Tensor:
    """Apply one op chosen in Python (used by tests and simple callers)."""
    op_index(name)
    return _OP_TABLE[name](tf.convert_to_tensor(image), level, seeds_lib.ensure_seed(seed),
                           hparams)


def apply_op(image, index, level, seed, hparams: AugmentHParams,
             allowed: tuple[str, ...] = OP_NAMES) -> tf.Tensor:
    """Apply op number ``index`` of ``allowed`` (a tensor index) at ``level``; one graph branch each."""
    image = tf.convert_to_tensor(image)
    seed = seeds_lib.ensure_seed(seed)
    branches = [
        (lambda fn=_OP_TABLE[name]: fn(image, level, seed, hparams)) for name in allowed]
    result = tf.switch_case(tf.cast(index, tf.int32), branches)
    return tf.ensure_shape(result, image.shape)


def apply_op_with_probability(image, index, level, probability, seed, hparams: AugmentHParams,
                              allowed: tuple[str, ...] = OP_NAMES) -> tf.Tensor:
    """Apply the op with ``probability``, else return the image unchanged."""
    seed_coin, seed_op = seeds_lib.split_seed(seed, 2)
    return tf.cond(seeds_lib.bernoulli(seed_coin, probability),
                   lambda: apply_op(image, index, level, seed_op, hparams, allowed),
                   lambda: tf.convert_to_tensor(image))

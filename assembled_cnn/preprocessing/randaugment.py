"""RandAugment (Cubuk et al., arXiv 1909.13719) configured by timm-style spec strings.

A spec looks like ``rand-m9-mstd0.5-inc1`` (the first section must be ``rand``), with
sections ``m`` magnitude (level, default 10), ``n`` number of ops (default 2), ``mstd``
magnitude noise std (default 0; ``mstd`` > 100 means uniform in [0, m]), ``mmax``
upper clip of the noisy magnitude (default 10), ``inc`` 1 for the "increasing" op set
whose strength grows with the magnitude, ``p`` the chance that each chosen op is
applied (default 0.5, as timm).

As in timm: ``n`` ops are drawn uniformly *with replacement* from 15 ops (no Cutout),
the magnitude noise is drawn per op, and translation is relative (0.45 of the image
side at level 10).
"""

from __future__ import annotations

import dataclasses
import re

import tensorflow as tf

from assembled_cnn.preprocessing import magnitudes
from assembled_cnn.preprocessing import seeds as seeds_lib
from assembled_cnn.preprocessing.magnitudes import AugmentHParams

RAND_OPS: tuple[str, ...] = (
    "AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "SolarizeAdd",
    "Color", "Contrast", "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateX",
    "TranslateY")
RAND_INCREASING_OPS: tuple[str, ...] = (
    "AutoContrast", "Equalize", "Invert", "Rotate", "PosterizeIncreasing",
    "SolarizeIncreasing", "SolarizeAdd", "ColorIncreasing", "ContrastIncreasing",
    "BrightnessIncreasing", "SharpnessIncreasing", "ShearX", "ShearY", "TranslateX",
    "TranslateY")
UNIFORM_MAGNITUDE_STD = 100.0  # an mstd above this means "uniform in [0, magnitude]"


@dataclasses.dataclass(frozen=True)
class RandAugmentConfig:
    num_layers: int = 2
    magnitude: float = 10.0
    magnitude_std: float = 0.0
    magnitude_max: float = magnitudes.MAX_LEVEL
    increasing: bool = False
    probability: float = 0.5

    @property
    def op_names(self) -> tuple[str, ...]:
        return RAND_INCREASING_OPS if self.increasing else RAND_OPS


def parse_randaugment_spec(spec: str) -> RandAugmentConfig:
    """Parse ``rand-m9-n2-mstd0.5-mmax10-inc1-p0.5`` into a RandAugmentConfig."""
    sections = spec.strip().split("-")
    if not sections or sections[0] != "rand":
        raise ValueError(f"RandAugment spec {spec!r} must start with 'rand-', "
                         "e.g. 'rand-m9-mstd0.5-inc1'")
    fields: dict = {}
    for section in sections[1:]:
        match = re.fullmatch(r"(mstd|mmax|inc|m|n|p)([0-9.]+|inf)", section)
        if match is None:
            raise ValueError(f"RandAugment spec {spec!r}: cannot parse section {section!r}; "
                             "known sections are m<float>, n<int>, mstd<float>, mmax<float>, "
                             "inc<0|1>, p<float>")
        key, value = match.groups()
        if key == "m":
            fields["magnitude"] = float(value)
        elif key == "n":
            fields["num_layers"] = int(value)
        elif key == "mstd":
            fields["magnitude_std"] = float(value)
        elif key == "mmax":
            fields["magnitude_max"] = float(value)
        elif key == "inc":
            fields["increasing"] = bool(int(float(value)))
        else:
            fields["probability"] = float(value)
    return RandAugmentConfig(**fields)


def sample_magnitude(config: RandAugmentConfig, seed) -> tf.Tensor:
    """The level of one op: the magnitude, optionally with noise, clipped to [0, mmax]."""
    magnitude = tf.constant(config.magnitude, tf.float32)
    if config.magnitude_std > UNIFORM_MAGNITUDE_STD:
        magnitude = seeds_lib.uniform(seed, (), 0.0, config.magnitude)
    elif config.magnitude_std > 0:
        noise = tf.random.stateless_normal([], seed=seeds_lib.ensure_seed(seed))
        magnitude = magnitude + config.magnitude_std * noise
    return tf.clip_by_value(magnitude, 0.0, config.magnitude_max)


def distort_image_with_randaugment(image, config: RandAugmentConfig | str, seed=None,
                                   hparams: AugmentHParams = AugmentHParams()) -> tf.Tensor:
    """Apply ``num_layers`` random ops to a uint8 [H, W, 3] image."""
    if isinstance(config, str):
        config = parse_randaugment_spec(config)
    image = tf.convert_to_tensor(image)
    if image.dtype != tf.uint8:
        raise TypeError(f"RandAugment works on uint8 images, got {image.dtype.name}")
    names = config.op_names
    for layer_seed in seeds_lib.split_seed(seed, max(config.num_layers, 1))[:config.num_layers]:
        seed_pick, seed_level, seed_op = seeds_lib.split_seed(layer_seed, 3)
        index = seeds_lib.uniform(seed_pick, (), 0, len(names), tf.int32)
        level = sample_magnitude(config, seed_level)
        image = magnitudes.apply_op_with_probability(
            image, index, level, config.probability, seed_op, hparams, allowed=names)
    return image

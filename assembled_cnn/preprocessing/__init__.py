"""Pure image functions as TF graph ops (no I/O), usable inside ``tf.data``.

Modules, one concept each: ``crop`` (decode, Inception crop, resize, centre crop),
``presets`` (the original ``--preprocessing_type`` presets and ``preprocess_image``),
``augment_ops`` / ``magnitudes`` (the uint8 ops and their level mapping),
``autoaugment``, ``randaugment``, ``random_erasing``, ``mixing`` (mixup, CutMix,
label smoothing, KD targets), ``normalize`` and ``seeds`` (stateless randomness).
"""

from assembled_cnn.preprocessing.autoaugment import POLICIES, distort_image_with_autoaugment
from assembled_cnn.preprocessing.crop import InceptionCropConfig
from assembled_cnn.preprocessing.magnitudes import AugmentHParams
from assembled_cnn.preprocessing.mixing import MixedBatch, MixingConfig, mix_batch
from assembled_cnn.preprocessing.normalize import CHANNEL_MEANS, normalize_image
from assembled_cnn.preprocessing.presets import PreprocessConfig, get_preset, preprocess_image
from assembled_cnn.preprocessing.randaugment import (RandAugmentConfig,
                                                     distort_image_with_randaugment,
                                                     parse_randaugment_spec)
from assembled_cnn.preprocessing.random_erasing import RandomErasingConfig, random_erasing

__all__ = [
    "AugmentHParams", "CHANNEL_MEANS", "InceptionCropConfig", "MixedBatch", "MixingConfig",
    "POLICIES", "PreprocessConfig", "RandAugmentConfig", "RandomErasingConfig",
    "distort_image_with_autoaugment", "distort_image_with_randaugment", "get_preset",
    "mix_batch", "normalize_image", "parse_randaugment_spec", "preprocess_image",
    "random_erasing",
]

"""The original ``--preprocessing_type`` presets and the per-image preprocessing function.

=====================  ==========  ===================================================
preset                 train size  eval
=====================  ==========  ===================================================
imagenet               224         resize shorter side 256 → centre crop 224
imagenet_224_256       224         resize 292 → crop 256 (Assemble-ResNet-50)
imagenet_224_256a      224         resize 257 → crop 256 (Assemble-ResNet-152)
imagenet_NNN           NNN         resize int(NNN / 0.875) → crop NNN
imagenet_NNNa          NNN         resize NNN + 1 → crop NNN
imagenet_TTT_EEE[a]    TTT         as above with EEE (general FixRes form)
efficientnet_lite[_N]  N (224)     as imagenet_N, input (x - 127) / 128 (imported Lite weights)
cub (= reid), reid     224         train: ½ resize 256² + random crop, ½ resize 224²;
                                   eval: resize to 256² (no crop, aspect not kept)
reid_224               224         eval: resize to 224²
cifar                  32          train: zero-pad 4, random 32² crop, flip; eval: as is
mnist                  28          resize to the size; 1 or 3 output channels; no flip
=====================  ==========  ===================================================

Training on the ``imagenet`` family: Inception crop in the JPEG domain → random flip →
bilinear resize → (AutoAugment | RandAugment on uint8) → normalisation → (random erasing).
FixRes: ``preset.with_test_size(320)`` evaluates at another size than it trains.
"""

from __future__ import annotations

import dataclasses
import re

import tensorflow as tf

from assembled_cnn.preprocessing import autoaugment, crop, normalize, randaugment
from assembled_cnn.preprocessing import random_erasing as erasing
from assembled_cnn.preprocessing import seeds as seeds_lib
from assembled_cnn.preprocessing.crop import InceptionCropConfig
from assembled_cnn.preprocessing.magnitudes import AugmentHParams
from assembled_cnn.preprocessing.random_erasing import RandomErasingConfig

FAMILIES = ("imagenet", "reid", "cifar", "mnist")
EVAL_CROP_RULES = ("ratio", "plus_one")  # the original's crop_type 0 and 1
EVAL_CROP_RATIO = 0.875


@dataclasses.dataclass(frozen=True)
class PreprocessConfig:
    """Everything that decides how one encoded image becomes a model input."""

    name: str = "imagenet"
    family: str = "imagenet"
    train_size: int = 224
    eval_size: int = 224
    eval_crop_rule: str = "ratio"
    eval_resize: int | None = None  # shorter side before the centre crop; None: from the rule
    inception_crop: InceptionCropConfig = InceptionCropConfig()
    random_crop: bool = True  # False: min_object_covered 1.0 (the original's use_random_crop)
    use_bboxes: bool = False  # use record boxes in the crop (the original never did)
    flip: bool = True
    autoaugment: str | None = None
    randaugment: str | None = None
    augment_hparams: AugmentHParams = AugmentHParams()
    random_erasing: RandomErasingConfig | None = None
    normalization: str = "mean_subtract"
    means: tuple[float, ...] = normalize.CHANNEL_MEANS
    stds: tuple[float, ...] = normalize.IMAGENET_STDS
    decode_channels: int = 3
    output_channels: int = 3
    dct_method: str = crop.DEFAULT_DCT_METHOD
    cifar_padding: int = 4

    def __post_init__(self):
        _check_choice("family", self.family, FAMILIES)
        _check_choice("eval_crop_rule", self.eval_crop_rule, EVAL_CROP_RULES)
        _check_choice("normalization", self.normalization, normalize.NORMALIZATION_MODES)
        if self.autoaugment and self.randaugment:
            raise ValueError("set either autoaugment or randaugment, not both "
                             f"(got {self.autoaugment!r} and {self.randaugment!r})")
        if self.autoaugment:
            autoaugment.get_policy(self.autoaugment)
        if self.randaugment:
            randaugment.parse_randaugment_spec(self.randaugment)
        if self.output_channels not in (1, 3) or self.decode_channels not in (1, 3):
            raise ValueError("decode_channels and output_channels must be 1 or 3, got "
                             f"{self.decode_channels} and {self.output_channels}")

    @property
    def resolved_eval_resize(self) -> int:
        """Shorter side (imagenet) or square side (reid) the eval image is resized to."""
        if self.eval_resize is not None:
            return self.eval_resize
        if self.eval_crop_rule == "plus_one":
            return self.eval_size + 1
        return int(self.eval_size * (1.0 / EVAL_CROP_RATIO))

    def with_test_size(self, test_size: int, eval_crop_rule: str | None = None):
        """FixRes: evaluate at ``test_size`` (resize by the crop rule) while training unchanged."""
        return dataclasses.replace(self, eval_size=test_size, eval_resize=None,
                                   eval_crop_rule=eval_crop_rule or self.eval_crop_rule)

    def image_size(self, is_training: bool) -> int:
        if is_training or self.family == "mnist":
            return self.train_size if is_training else self.eval_size
        if self.family == "reid":
            return self.resolved_eval_resize
        return self.eval_size

    def output_shape(self, is_training: bool) -> tuple[int, int, int]:
        size = self.image_size(is_training)
        return (size, size, self.output_channels)


def _check_choice(flag: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{flag}={value!r} is not valid; choose one of {', '.join(choices)}")


_IMAGENET_SIZE = re.compile(r"imagenet_(\d{2,4})(?:_(\d{2,4}))?(a?)")  # original: 3 digits
# EfficientNet-Lite's published input, (x - 127) / 128, for imported Lite weights.
_EFFICIENTNET_LITE = re.compile(r"efficientnet_lite(?:_(\d+))?")
EFFICIENTNET_LITE_MEANS, EFFICIENTNET_LITE_STDS = (127.0, 127.0, 127.0), (128.0, 128.0, 128.0)


def get_preset(name: str, **overrides) -> PreprocessConfig:
    """The config of a ``--preprocessing_type`` name; keyword overrides replace fields."""
    if name == "imagenet":
        base = PreprocessConfig(name=name)
    elif (match := _IMAGENET_SIZE.fullmatch(name)) is not None:
        train_size = int(match.group(1))
        eval_size = int(match.group(2) or train_size)
        base = PreprocessConfig(name=name, train_size=train_size, eval_size=eval_size,
                                eval_crop_rule="plus_one" if match.group(3) else "ratio")
    elif (match := _EFFICIENTNET_LITE.fullmatch(name)) is not None:
        size = int(match.group(1) or 224)
        base = PreprocessConfig(name=name, train_size=size, eval_size=size, normalization="mean_std",
                                means=EFFICIENTNET_LITE_MEANS, stds=EFFICIENTNET_LITE_STDS)
    elif name in ("cub", "reid"):
        base = PreprocessConfig(name=name, family="reid", eval_size=224)
    elif name == "reid_224":
        base = PreprocessConfig(name=name, family="reid", eval_size=224, eval_resize=224)
    elif name == "cifar":
        base = PreprocessConfig(name=name, family="cifar", train_size=32, eval_size=32)
    elif name == "mnist":
        base = PreprocessConfig(name=name, family="mnist", train_size=28, eval_size=28,
                                flip=False, decode_channels=1, output_channels=3)
    else:
        raise ValueError(
            f"--preprocessing_type={name!r} is unknown; use imagenet, imagenet_224_256, "
            "imagenet_224_256a, imagenet_NNN, imagenet_NNNa, imagenet_TTT_EEE[a], efficientnet_lite[_NNN], cub, reid, "
            "reid_224, cifar or mnist")
    return dataclasses.replace(base, **overrides) if overrides else base


# ----------------------------------------------------------------------------- pipelines

def _augment_uint8(image, preset: PreprocessConfig, seed) -> tf.Tensor:
    """AutoAugment / RandAugment on the resized float image (clipped to uint8 first)."""
    if not (preset.autoaugment or preset.randaugment):
        return image
    as_uint8 = tf.cast(tf.clip_by_value(image, 0.0, 255.0), tf.uint8)
    if as_uint8.shape[-1] != 3:
        raise ValueError(f"AutoAugment/RandAugment need RGB images; preset {preset.name!r} "
                         f"decodes {as_uint8.shape[-1]} channel(s)")
    if preset.autoaugment:
        augmented = autoaugment.distort_image_with_autoaugment(
            as_uint8, preset.autoaugment, seed, preset.augment_hparams)
    else:
        augmented = randaugment.distort_image_with_randaugment(
            as_uint8, preset.randaugment, seed, preset.augment_hparams)
    return tf.cast(augmented, tf.float32)


def _train_imagenet(image_bytes, preset, seed, bbox):
    seed_crop, seed_flip = seeds_lib.split_seed(seed, 2)
    config = preset.inception_crop if preset.random_crop else dataclasses.replace(
        preset.inception_crop, min_object_covered=1.0)
    image = crop.decode_and_random_crop(
        image_bytes, config, preset.decode_channels, seed_crop,
        bbox if preset.use_bboxes else None, preset.dct_method)
    if preset.flip:
        image = crop.random_flip(image, seed_flip)
    return crop.resize(image, preset.train_size, preset.train_size)


def _train_reid(image_bytes, preset, seed):
    """Half the time: resize to 256² and random-crop; otherwise resize straight to size²."""
    seed_choice, seed_crop, seed_flip = seeds_lib.split_seed(seed, 3)
    image = crop.decode_image(image_bytes, preset.decode_channels, preset.dct_method)
    size, large = preset.train_size, int(preset.train_size / EVAL_CROP_RATIO)
    shape = [size, size, preset.decode_channels]
    image = tf.cond(
        seeds_lib.bernoulli(seed_choice, 0.5),
        lambda: tf.image.stateless_random_crop(crop.resize(image, large, large), shape,
                                               seed=seed_crop),
        lambda: crop.resize(image, size, size))
    return crop.random_flip(image, seed_flip) if preset.flip else image


def _train_cifar(image_bytes, preset, seed):
    seed_crop, seed_flip = seeds_lib.split_seed(seed, 2)
    image = crop.decode_image(image_bytes, preset.decode_channels, preset.dct_method)
    image = crop.resize(image, preset.train_size, preset.train_size)
    image = crop.pad_and_random_crop(image, preset.train_size, preset.cifar_padding, seed_crop)
    return crop.random_flip(image, seed_flip) if preset.flip else image


def _decode_train(image_bytes, preset, seed, bbox):
    if preset.family == "imagenet":
        return _train_imagenet(image_bytes, preset, seed, bbox)
    if preset.family == "reid":
        return _train_reid(image_bytes, preset, seed)
    if preset.family == "cifar":
        return _train_cifar(image_bytes, preset, seed)
    image = crop.decode_image(image_bytes, preset.decode_channels, preset.dct_method)
    image = crop.resize(image, preset.train_size, preset.train_size)
    return crop.random_flip(image, seed) if preset.flip else image


def _decode_eval(image_bytes, preset):
    image = crop.decode_image(image_bytes, preset.decode_channels, preset.dct_method)
    if preset.family == "imagenet":
        image = crop.aspect_preserving_resize(image, preset.resolved_eval_resize)
        return crop.central_crop(image, preset.eval_size, preset.eval_size)
    size = preset.image_size(False)
    return crop.resize(image, size, size)


def _match_channels(image, preset: PreprocessConfig) -> tf.Tensor:
    if preset.decode_channels == preset.output_channels:
        return image
    if preset.output_channels == 3:
        return tf.tile(image, [1, 1, 3])
    return tf.image.rgb_to_grayscale(image)


def preprocess_image(image_bytes, is_training: bool, preset: PreprocessConfig | str = "imagenet",
                     seed=None, bbox=None) -> tf.Tensor:
    """Encoded image bytes → float32 [size, size, channels] model input.

    seed: int [2] tensor for every random choice (None draws one); bbox: optional
    [N, 4] object boxes from the record, used only if ``preset.use_bboxes``.
    """
    if isinstance(preset, str):
        preset = get_preset(preset)
    seed_decode, seed_augment, seed_erase = seeds_lib.split_seed(seed, 3)
    if is_training:
        image = _decode_train(image_bytes, preset, seed_decode, bbox)
        image = tf.cast(image, tf.float32)
        image = _augment_uint8(image, preset, seed_augment)
    else:
        image = tf.cast(_decode_eval(image_bytes, preset), tf.float32)
    image = _match_channels(image, preset)
    image = normalize.normalize_image(image, preset.normalization, preset.means, preset.stds)
    if is_training and preset.random_erasing is not None:
        image = erasing.random_erasing(image, preset.random_erasing, seed_erase)
    return tf.ensure_shape(image, preset.output_shape(is_training))

"""Pixel normalisation.

The original subtracts the RGB means [123.68, 116.78, 103.94] and does *not* divide by a
std, so its inputs span roughly [-124, 152].  Checkpoints trained by the original (and
converted into this package) expect exactly that, hence it is the default.
"""

from __future__ import annotations

import tensorflow as tf

CHANNEL_MEANS = (123.68, 116.78, 103.94)  # RGB, 0–255 scale (the original)
IMAGENET_STDS = (58.395, 57.12, 57.375)  # RGB, 0–255 scale (0.229, 0.224, 0.225) · 255

NORMALIZATION_MODES = ("mean_subtract", "mean_std", "unit", "none")


def normalize_image(image, mode: str = "mean_subtract", means=CHANNEL_MEANS,
                    stds=IMAGENET_STDS) -> tf.Tensor:
    """Turn a 0–255 image into the model's float32 input.

    mode: ``mean_subtract`` (x − mean, the original), ``mean_std`` ((x − mean) / std),
    ``unit`` (x / 255, e.g. the KD teachers' [0, 1] input) or ``none`` (float32 0–255).
    A grayscale image (1 channel) uses the average of the per-channel constants.
    """
    image = tf.cast(image, tf.float32)
    if mode not in NORMALIZATION_MODES:
        raise ValueError(f"normalization={mode!r} is unknown; choose one of {NORMALIZATION_MODES}")
    if mode == "none":
        return image
    if mode == "unit":
        return image / 255.0
    channels = image.shape[-1]
    means_t, stds_t = _per_channel(means, channels), _per_channel(stds, channels)
    if mode == "mean_subtract":
        return image - means_t
    return (image - means_t) / stds_t


def _per_channel(values, channels) -> tf.Tensor:
    values = tf.constant(values, tf.float32)
    if channels == 1 and values.shape[0] != 1:
        return tf.reduce_mean(values, keepdims=True)
    if channels is not None and values.shape[0] != channels:
        raise ValueError(f"got {values.shape[0]} normalisation constants for {channels} channels")
    return values


def black_pixel(preset, channels: int) -> tf.Tensor:
    """What a 0-valued pixel (the zero padding of the cifar random crop) becomes after
    `preset`'s normalisation: [channels] float32."""
    return normalize_image(tf.zeros([channels]), preset.normalization, preset.means, preset.stds)

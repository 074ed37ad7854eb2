"""Digital corruptions (fast TF versions): brightness, contrast, elastic_transform,
pixelate, jpeg_compression, saturate.

Images are ``[B, H, W, C]`` float32 in [0, 1]; seeds ``[B, 2]`` int64.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from assembled_cnn.robustness.corruptions import _tf_ops as ops

BRIGHTNESS_SHIFT = (0.1, 0.2, 0.3, 0.4, 0.5)
CONTRAST_FACTOR = (0.4, 0.3, 0.2, 0.1, 0.05)
SATURATE_SCALE_SHIFT = ((0.3, 0.0), (0.1, 0.0), (2.0, 0.0), (5.0, 0.1), (20.0, 0.2))
ELASTIC_ALPHA = (250 * 0.05, 250 * 0.065, 250 * 0.085, 250 * 0.1, 250 * 0.12)
PIXELATE_FACTOR = (0.6, 0.5, 0.4, 0.3, 0.25)
JPEG_QUALITY = (25, 18, 15, 10, 7)


def brightness(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    return brightness_apply(x, (), severity)


def brightness_apply(x: tf.Tensor, draws, severity: int) -> tf.Tensor:
    """HSV value + c. With hue and saturation fixed, RGB scales by V'/V, so no HSV round trip."""
    del draws
    value = tf.reduce_max(x, axis=-1, keepdims=True)
    new_value = tf.minimum(value + BRIGHTNESS_SHIFT[severity - 1], 1.0)
    ratio = new_value / tf.maximum(value, 1e-12)
    return tf.where(value > 0, x * ratio, new_value)


def saturate(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    return saturate_apply(x, (), severity)


def saturate_apply(x: tf.Tensor, draws, severity: int) -> tf.Tensor:
    """HSV saturation * a + b. Channels are V(1 - S g_c), so they move linearly in S; grey
    pixels have hue 0 in scikit-image and turn red-tinted when b > 0."""
    del draws
    scale, shift = SATURATE_SCALE_SHIFT[severity - 1]
    value = tf.reduce_max(x, axis=-1, keepdims=True)
    delta = value - tf.reduce_min(x, axis=-1, keepdims=True)
    sat = tf.where(value > 0, delta / tf.maximum(value, 1e-12), 0.0)
    new_sat = tf.clip_by_value(sat * scale + shift, 0.0, 1.0)
    coloured = value - (value - x) * new_sat / tf.maximum(sat, 1e-12)
    grey = tf.concat([value, value * (1 - new_sat), value * (1 - new_sat)], axis=-1)
    return tf.where(delta > 0, coloured, grey)


def contrast(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    return contrast_apply(x, (), severity)


def contrast_apply(x: tf.Tensor, draws, severity: int) -> tf.Tensor:
    del draws
    means = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
    return (x - means) * CONTRAST_FACTOR[severity - 1] + means


def elastic_transform(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    return elastic_transform_apply(x, elastic_transform_draws(x, seeds, severity), severity)


def _static_hw(x: tf.Tensor, name: str):
    height, width = ops.static_or_dynamic_hw(x)
    if not isinstance(height, int) or not isinstance(width, int):
        raise ValueError(f"{name} needs a static image height and width")
    return height, width


def elastic_transform_draws(x: tf.Tensor, seeds: tf.Tensor, severity: int):
    del severity
    height, width = _static_hw(x, "elastic_transform")
    max_shift = height * 0.005
    return tuple(ops.per_image(
        lambda s: tf.random.stateless_uniform([height, width, 1], s, -max_shift, max_shift),
        ops.stream_seeds(seeds, stream)) for stream in (0, 1))


def elastic_transform_apply(x: tf.Tensor, draws, severity: int) -> tf.Tensor:
    """imagecorruptions' size-relative elastic warp: uniform noise of +-0.5 % of the height,
    Gaussian-smoothed with sigma = 1 % of each side (truncate 3), scaled by alpha, applied
    by bilinear sampling with reflected borders."""
    height, width = _static_hw(x, "elastic_transform")
    alpha = ELASTIC_ALPHA[severity - 1]
    fields = []
    for noise in draws:
        noise = ops.shift_filter_1d(noise, ops.gaussian_kernel_1d(height * 0.01, 3.0), 1, "reflect")
        noise = ops.shift_filter_1d(noise, ops.gaussian_kernel_1d(width * 0.01, 3.0), 2, "reflect")
        fields.append(noise[..., 0] * alpha)
    d_col, d_row = fields
    rows = tf.cast(tf.range(height), tf.float32)[None, :, None] + d_row
    cols = tf.cast(tf.range(width), tf.float32)[None, None, :] + d_col
    return ops.bilinear_sample(x, rows, cols, "reflect")


def pil_box_weights(in_size: int, out_size: int) -> np.ndarray:
    """Pillow's BOX resampling matrix ``[out, in]`` (pixel-centre box of width in/out)."""
    scale = in_size / out_size
    support = 0.5 * max(scale, 1.0)
    weights = np.zeros((out_size, in_size))
    for i in range(out_size):
        centre = (i + 0.5) * scale
        low = max(int(centre - support + 0.5), 0)
        high = min(int(centre + support + 0.5), in_size)
        taps = (np.arange(low, high) - centre + 0.5) / max(scale, 1.0)
        row = ((taps > -0.5) & (taps <= 0.5)).astype(np.float64)
        weights[i, low:high] = row / row.sum()
    return weights


def pil_nearest_index(in_size: int, out_size: int) -> np.ndarray:
    return np.minimum(((np.arange(out_size) + 0.5) * in_size / out_size).astype(np.int64), in_size - 1)


def _resample_u8(x: tf.Tensor, weights: np.ndarray, axis: int) -> tf.Tensor:
    """One Pillow 8-bit resampling pass (matrix along ``axis``), rounded to integers."""
    matrix = tf.constant(weights, tf.float32)
    equation = "oh,bhwc->bowc" if axis == 1 else "ow,bhwc->bhoc"
    return tf.floor(tf.einsum(equation, matrix, x) + 0.5)


def pixelate(x: tf.Tensor, seeds: tf.Tensor, severity: int, upsample: str = "nearest") -> tf.Tensor:
    return pixelate_apply(x, (), severity, upsample)


def pixelate_apply(x: tf.Tensor, draws, severity: int, upsample: str = "nearest") -> tf.Tensor:
    """PIL BOX down-sampling by c then up-sampling (imagecorruptions: NEAREST)."""
    del draws
    height, width = ops.static_or_dynamic_hw(x)
    if not isinstance(height, int) or not isinstance(width, int):
        raise ValueError("pixelate needs a static image height and width")
    factor = PIXELATE_FACTOR[severity - 1]
    small_h, small_w = int(height * factor), int(width * factor)
    pixels = tf.round(x * 255.0)
    pixels = _resample_u8(pixels, pil_box_weights(width, small_w), axis=2)
    pixels = _resample_u8(pixels, pil_box_weights(height, small_h), axis=1)
    if upsample == "box":
        pixels = _resample_u8(pixels, pil_box_weights(small_w, width), axis=2)
        pixels = _resample_u8(pixels, pil_box_weights(small_h, height), axis=1)
    else:
        pixels = tf.gather(pixels, pil_nearest_index(small_h, height), axis=1)
        pixels = tf.gather(pixels, pil_nearest_index(small_w, width), axis=2)
    return pixels / 255.0


def jpeg_compression(x: tf.Tensor, seeds: tf.Tensor, severity: int) -> tf.Tensor:
    return jpeg_compression_apply(x, (), severity)


def jpeg_compression_apply(x: tf.Tensor, draws, severity: int) -> tf.Tensor:
    """libjpeg round trip at quality c (4:2:0 chroma, accurate DCT), like PIL's ``save``."""
    del draws
    quality = JPEG_QUALITY[severity - 1]
    channels = x.shape[-1]
    pixels = tf.cast(tf.round(tf.clip_by_value(x, 0.0, 1.0) * 255.0), tf.uint8)

    def round_trip(image):
        encoded = tf.io.encode_jpeg(image, quality=quality)
        decoded = tf.io.decode_jpeg(encoded, channels=channels or 0, dct_method="INTEGER_ACCURATE")
        return tf.cast(decoded, tf.float32)

    return tf.map_fn(round_trip, pixels, fn_output_signature=tf.float32) / 255.0

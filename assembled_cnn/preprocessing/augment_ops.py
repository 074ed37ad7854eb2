"""The uint8 image operations shared by AutoAugment and RandAugment.

Each op takes an RGB ``uint8`` tensor [H, W, 3] and returns one of the same shape and
dtype.  Semantics follow the PIL-equivalent TF ops of the original (tensorflow/tpu
EfficientNet ``autoaugment.py``, copied into assembled-cnn); geometry uses
``ImageProjectiveTransformV3`` with nearest-neighbour sampling and a constant fill.

Conventions (tested in tests/preprocessing/test_augment_ops.py):
  * ``rotate(image, degrees)``: positive degrees turn the picture counter-clockwise as
    displayed, about the image centre.
  * ``translate_x(image, pixels)``: output(x, y) = input(x + pixels, y), i.e. content moves
    left by ``pixels`` (PIL's affine convention); ``translate_y`` likewise moves it up.
  * ``shear_x(image, level)``: output(x, y) = input(x + level * y, y).
"""

from __future__ import annotations

import math

import tensorflow as tf

from assembled_cnn.preprocessing import seeds as seeds_lib

FILL_VALUE = 128  # the original's ``replace=[128, 128, 128]``
_GRAY_WEIGHTS = (0.2989, 0.5870, 0.1140)  # tf.image.rgb_to_grayscale's weights


def _to_float(image) -> tf.Tensor:
    return tf.cast(image, tf.float32)


def _to_uint8(image_float) -> tf.Tensor:
    """Clip to [0, 255] and truncate, as the original's ``tf.cast`` after blending."""
    return tf.cast(tf.clip_by_value(image_float, 0.0, 255.0), tf.uint8)


def blend(degenerate, image, factor) -> tf.Tensor:
    """``degenerate + factor * (image - degenerate)``: factor 0 gives degenerate, 1 gives image."""
    low, high = _to_float(degenerate), _to_float(image)
    return _to_uint8(low + tf.cast(factor, tf.float32) * (high - low))


def grayscale(image) -> tf.Tensor:
    """Luma as float [H, W, 1]."""
    weights = tf.constant(_GRAY_WEIGHTS, tf.float32)
    return tf.reduce_sum(_to_float(image) * weights, axis=-1, keepdims=True)


# --------------------------------------------------------------------------- colour ops

def invert(image) -> tf.Tensor:
    return 255 - tf.convert_to_tensor(image)


def solarize(image, threshold) -> tf.Tensor:
    """Invert every pixel whose value is >= threshold (threshold in [0, 256])."""
    image = tf.convert_to_tensor(image)
    below = tf.cast(image, tf.int32) < tf.cast(threshold, tf.int32)
    return tf.where(below, image, 255 - image)


def solarize_add(image, addition, threshold=128) -> tf.Tensor:
    """Add ``addition`` (clipped to [0, 255]) to the pixels below ``threshold``."""
    image = tf.convert_to_tensor(image)
    as_int = tf.cast(image, tf.int32)
    added = tf.cast(tf.clip_by_value(as_int + tf.cast(addition, tf.int32), 0, 255), tf.uint8)
    return tf.where(as_int < tf.cast(threshold, tf.int32), added, image)


def posterize(image, bits) -> tf.Tensor:
    """Keep the ``bits`` most significant bits of every value (0 bits gives black)."""
    bits = tf.clip_by_value(tf.cast(bits, tf.int32), 0, 8)
    mask = tf.cast(256 - tf.bitwise.left_shift(1, 8 - bits), tf.uint8)
    return tf.bitwise.bitwise_and(tf.convert_to_tensor(image), mask)


def color(image, factor) -> tf.Tensor:
    """PIL ImageEnhance.Color: blend with the grayscale image."""
    gray = tf.tile(_to_uint8(grayscale(image)), [1, 1, 3])
    return blend(gray, image, factor)


def contrast(image, factor, mean_quirk: bool = False) -> tf.Tensor:
    """PIL ImageEnhance.Contrast: blend with a flat image at the mean gray level.

    ``mean_quirk=True`` reproduces the original's bug (QUIRK, reference §3.5): its "mean"
    is the pixel count / 256, which depends on the image size, not on its content.
    """
    gray = grayscale(image)
    if mean_quirk:
        mean = tf.cast(tf.size(gray), tf.float32) / 256.0
    else:
        mean = tf.reduce_mean(tf.floor(gray))
    flat = tf.fill(tf.shape(image), tf.cast(tf.clip_by_value(mean, 0.0, 255.0), tf.uint8))
    return blend(flat, image, factor)


def brightness(image, factor) -> tf.Tensor:
    """PIL ImageEnhance.Brightness: blend with black."""
    return blend(tf.zeros_like(image), image, factor)


def sharpness(image, factor) -> tf.Tensor:
    """PIL ImageEnhance.Sharpness: blend with the SMOOTH-filtered image (border pixels kept)."""
    image = tf.convert_to_tensor(image)
    kernel = tf.constant([[1, 1, 1], [1, 5, 1], [1, 1, 1]], tf.float32) / 13.0
    kernel = tf.tile(tf.reshape(kernel, [3, 3, 1, 1]), [1, 1, 3, 1])
    smooth = tf.nn.depthwise_conv2d(_to_float(image)[None], kernel, [1, 1, 1, 1], "VALID")[0]
    smooth = tf.pad(_to_uint8(smooth), [[1, 1], [1, 1], [0, 0]])
    interior = tf.pad(tf.ones_like(smooth[1:-1, 1:-1, :1], tf.bool), [[1, 1], [1, 1], [0, 0]])
    degenerate = tf.where(interior, smooth, image)
    return blend(degenerate, image, factor)


def autocontrast(image) -> tf.Tensor:
    """Stretch every channel independently so that its min becomes 0 and its max 255."""
    values = _to_float(image)
    low = tf.reduce_min(values, axis=[0, 1], keepdims=True)
    high = tf.reduce_max(values, axis=[0, 1], keepdims=True)
    scale = 255.0 / tf.maximum(high - low, 1.0)
    stretched = _to_uint8(values * scale - low * scale)  # PIL's lut: v * scale + offset
    return tf.where(high > low, stretched, tf.convert_to_tensor(image))


def equalize(image) -> tf.Tensor:
    """PIL ImageOps.equalize per channel: map values through the normalised cumulative histogram."""
    image = tf.convert_to_tensor(image)
    channels = tf.transpose(tf.reshape(tf.cast(image, tf.int32), [-1, 3]))  # [3, H*W]
    histogram = tf.math.bincount(channels, minlength=256, maxlength=256, axis=-1)
    last_bin = tf.gather(histogram, tf.reduce_max(channels, axis=1), batch_dims=1)
    step = (tf.reduce_sum(histogram, axis=1) - last_bin) // 255  # [3]
    safe_step = tf.maximum(step, 1)[:, None]
    lut = (tf.cumsum(histogram, axis=1) + safe_step // 2) // safe_step
    lut = tf.clip_by_value(tf.concat([tf.zeros([3, 1], tf.int32), lut[:, :-1]], axis=1), 0, 255)
    mapped = tf.gather(lut, channels, batch_dims=1)
    mapped = tf.where(step[:, None] > 0, mapped, channels)
    return tf.reshape(tf.cast(tf.transpose(mapped), tf.uint8), tf.shape(image))


# ------------------------------------------------------------------------- geometric ops

def _transform(image, matrix, fill) -> tf.Tensor:
    """Apply an output→input projective ``matrix`` (8 floats) with nearest sampling."""
    image = tf.convert_to_tensor(image)
    transformed = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None],
        transforms=tf.reshape(tf.cast(tf.stack(matrix), tf.float32), [1, 8]),
        output_shape=tf.shape(image)[:2],
        fill_value=tf.cast(fill, tf.float32),
        interpolation="NEAREST",
        fill_mode="CONSTANT")
    return tf.reshape(transformed[0], tf.shape(image))


def rotate(image, degrees, fill=FILL_VALUE) -> tf.Tensor:
    """Rotate about the centre; positive degrees = counter-clockwise as displayed."""
    radians = tf.cast(degrees, tf.float32) * (math.pi / 180.0)
    shape = tf.cast(tf.shape(image), tf.float32)
    height, width = shape[0] - 1.0, shape[1] - 1.0
    cos, sin = tf.cos(radians), tf.sin(radians)
    x_offset = (width - (cos * width - sin * height)) / 2.0
    y_offset = (height - (sin * width + cos * height)) / 2.0
    return _transform(image, [cos, -sin, x_offset, sin, cos, y_offset, 0.0, 0.0], fill)


def translate_x(image, pixels, fill=FILL_VALUE) -> tf.Tensor:
    return _transform(image, [1.0, 0.0, pixels, 0.0, 1.0, 0.0, 0.0, 0.0], fill)


def translate_y(image, pixels, fill=FILL_VALUE) -> tf.Tensor:
    return _transform(image, [1.0, 0.0, 0.0, 0.0, 1.0, pixels, 0.0, 0.0], fill)


def shear_x(image, level, fill=FILL_VALUE) -> tf.Tensor:
    return _transform(image, [1.0, level, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0], fill)


def shear_y(image, level, fill=FILL_VALUE) -> tf.Tensor:
    return _transform(image, [1.0, 0.0, 0.0, level, 1.0, 0.0, 0.0, 0.0], fill)


def cutout(image, pad_size, seed=None, fill=FILL_VALUE) -> tf.Tensor:
    """Fill a (2*pad_size)² square centred uniformly at random (clipped at the borders)."""
    image = tf.convert_to_tensor(image)
    seed_y, seed_x = seeds_lib.split_seed(seed, 2)
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    center_y = seeds_lib.uniform(seed_y, (), 0, height, tf.int32)
    center_x = seeds_lib.uniform(seed_x, (), 0, width, tf.int32)
    pad_size = tf.cast(pad_size, tf.int32)
    rows = tf.range(height)[:, None, None]
    cols = tf.range(width)[None, :, None]
    inside = ((rows >= center_y - pad_size) & (rows < center_y + pad_size)
              & (cols >= center_x - pad_size) & (cols < center_x + pad_size))
    return tf.where(inside, tf.cast(fill, image.dtype), image)

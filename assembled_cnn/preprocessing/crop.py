"""Decoding, cropping and resizing.

Training crops are "Inception-style": a random box (area 5–100 %, aspect 3/4–4/3,
covering ≥ 10 % of the object box, 100 attempts, whole image as fallback) is sampled
from the JPEG *header* and only that window is decoded with ``decode_and_crop_jpeg``,
which skips most of the decode work.  Non-JPEG bytes (PNG, BMP, GIF) are decoded in full
and then cropped with the same window.  For 4:4:4 JPEGs the fused crop equals
decode-then-crop exactly; with 4:2:0 chroma the outermost crop columns can differ by a
few levels (libjpeg's chroma upsampling lacks the neighbour outside the window), the
interior is identical.  Evaluation resizes the shorter side (truncating
``int(side * scale)`` as the original) and takes the centre crop.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from assembled_cnn.preprocessing import seeds as seeds_lib

DEFAULT_DCT_METHOD = "INTEGER_ACCURATE"  # the original's --dct_method default


@dataclasses.dataclass(frozen=True)
class InceptionCropConfig:
    min_object_covered: float = 0.1
    aspect_ratio_range: tuple[float, float] = (0.75, 1.33)
    area_range: tuple[float, float] = (0.05, 1.0)
    max_attempts: int = 100


def decode_image(image_bytes, channels: int = 3, dct_method: str = DEFAULT_DCT_METHOD):
    """Decode JPEG (with ``dct_method``), PNG, BMP or GIF (first frame) to uint8 [H, W, channels]."""
    def decode_jpeg():
        return tf.io.decode_jpeg(image_bytes, channels=channels, dct_method=dct_method)

    def decode_other():
        return tf.io.decode_image(image_bytes, channels=channels, expand_animations=False)

    image = tf.cond(tf.io.is_jpeg(image_bytes), decode_jpeg, decode_other)
    return tf.ensure_shape(image, [None, None, channels])


def sample_crop_window(image_shape, config: InceptionCropConfig = InceptionCropConfig(),
                       seed=None, bbox=None) -> tf.Tensor:
    """A random [offset_y, offset_x, height, width] window for an image of ``image_shape``.

    ``bbox``: optional [N, 4] object boxes (ymin, xmin, ymax, xmax, relative); none means
    the whole image is the object (what the original's supervised path always did).
    """
    boxes = tf.zeros([0, 4], tf.float32) if bbox is None else tf.cast(bbox, tf.float32)
    begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.cast(image_shape, tf.int32),
        bounding_boxes=tf.reshape(boxes, [1, -1, 4]),
        seed=seeds_lib.ensure_seed(seed),
        min_object_covered=config.min_object_covered,
        aspect_ratio_range=list(config.aspect_ratio_range),
        area_range=list(config.area_range),
        max_attempts=config.max_attempts,
        use_image_if_no_bounding_boxes=True)
    return tf.stack([begin[0], begin[1], size[0], size[1]])


def crop_window(image, window) -> tf.Tensor:
    """Crop a decoded image to ``window`` = [offset_y, offset_x, height, width]."""
    return tf.slice(image, [window[0], window[1], 0], [window[2], window[3], -1])


def decode_and_crop(image_bytes, window, channels: int = 3,
                    dct_method: str = DEFAULT_DCT_METHOD) -> tf.Tensor:
    """Decode only ``window`` of a JPEG; other formats are decoded in full, then cropped."""
    window = tf.cast(window, tf.int32)

    def fused():
        return tf.image.decode_and_crop_jpeg(image_bytes, window, channels=channels,
                                             dct_method=dct_method)

    def full_then_crop():
        return crop_window(decode_image(image_bytes, channels, dct_method), window)

    image = tf.cond(tf.io.is_jpeg(image_bytes), fused, full_then_crop)
    return tf.ensure_shape(image, [None, None, channels])


def encoded_image_shape(image_bytes, channels: int = 3) -> tf.Tensor:
    """[H, W, C] of encoded bytes; reads only the header for JPEG."""
    return tf.cond(tf.io.is_jpeg(image_bytes),
                   lambda: tf.io.extract_jpeg_shape(image_bytes),
                   lambda: tf.shape(decode_image(image_bytes, channels)))


def decode_and_random_crop(image_bytes, config: InceptionCropConfig = InceptionCropConfig(),
                           channels: int = 3, seed=None, bbox=None,
                           dct_method: str = DEFAULT_DCT_METHOD) -> tf.Tensor:
    """The Inception-style training crop, decoded in the JPEG domain when possible."""
    window = sample_crop_window(encoded_image_shape(image_bytes, channels), config, seed, bbox)
    return decode_and_crop(image_bytes, window, channels, dct_method)


def resize(image, height, width) -> tf.Tensor:
    """Bilinear resize without keeping the aspect ratio; returns float32."""
    return tf.image.resize(image, [height, width], method="bilinear")


def shorter_side_size(height, width, shorter_side) -> tuple[tf.Tensor, tf.Tensor]:
    """New (height, width) with the shorter side = ``shorter_side``, truncated like the original."""
    height_f, width_f = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    scale = tf.cast(shorter_side, tf.float32) / tf.minimum(height_f, width_f)
    return tf.cast(height_f * scale, tf.int32), tf.cast(width_f * scale, tf.int32)


def aspect_preserving_resize(image, shorter_side) -> tf.Tensor:
    """Bilinear resize so that the shorter side equals ``shorter_side``; returns float32."""
    shape = tf.shape(image)
    new_height, new_width = shorter_side_size(shape[0], shape[1], shorter_side)
    return resize(image, new_height, new_width)


def central_crop(image, height: int, width: int) -> tf.Tensor:
    """The centre ``height`` × ``width`` window (offsets rounded down, as the original)."""
    shape = tf.shape(image)
    top, left = (shape[0] - height) // 2, (shape[1] - width) // 2
    return tf.slice(image, [top, left, 0], [height, width, -1])


def random_flip(image, seed=None) -> tf.Tensor:
    """Horizontal flip with probability 1/2."""
    return tf.image.stateless_random_flip_left_right(image, seed=seeds_lib.ensure_seed(seed))


def pad_and_random_crop(image, size: int, padding: int, seed=None) -> tf.Tensor:
    """Zero-pad by ``padding`` on each side, then crop ``size`` × ``size`` at random (CIFAR)."""
    padded = tf.pad(image, [[padding, padding], [padding, padding], [0, 0]])
    channels = image.shape[-1]
    return tf.image.stateless_random_crop(padded, [size, size, channels],
                                          seed=seeds_lib.ensure_seed(seed))


def shift_image(images, dx: int, dy: int, fill) -> tf.Tensor:
    """NHWC `images` moved `dx` pixels right and `dy` down (negative: left / up), the uncovered
    border set to `fill` ([channels]): the translation the cifar training crop's zero padding allows."""
    height, width = images.shape[1], images.shape[2]
    pad = max(abs(dx), abs(dy))
    fill = tf.cast(fill, images.dtype)
    padded = tf.pad(images - fill, [[0, 0], [pad, pad], [pad, pad], [0, 0]]) + fill
    return padded[:, pad - dy:pad - dy + height, pad - dx:pad - dx + width, :]

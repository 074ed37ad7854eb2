"""TensorFlow building blocks shared by the fast corruptions.

Every op works on a batch ``[B, H, W, C]`` of float32 in [0, 1] and per-image seeds
``[B, 2]`` int64, so one image's result never depends on its batch neighbours.
Border modes are named after SciPy/OpenCV because the reference code uses those.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import tensorflow as tf

_STREAM_STRIDE = 1 << 44  # keeps sub-streams of one image apart from other (seed, corruption) keys


def stream_seeds(seeds: tf.Tensor, stream: int) -> tf.Tensor:
    """Independent per-image seeds for the ``stream``-th random draw of a corruption."""
    offset = tf.constant([stream * _STREAM_STRIDE, 0], tf.int64)
    return seeds + offset


def per_image(draw: Callable[[tf.Tensor], tf.Tensor], seeds: tf.Tensor,
              dtype: tf.DType = tf.float32) -> tf.Tensor:
    """Apply ``draw(seed)`` to every image seed; the result is stacked along axis 0."""
    return tf.map_fn(draw, seeds, fn_output_signature=dtype)


def per_image_elems(fn: Callable, elems, dtype: tf.DType = tf.float32) -> tf.Tensor:
    """``map_fn`` over several per-image tensors (image, seed, ...)."""
    return tf.map_fn(lambda args: fn(*args), elems, fn_output_signature=dtype)


def image_hw(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    shape = tf.shape(x)
    return shape[1], shape[2]


def static_or_dynamic_hw(x: tf.Tensor):
    """Height and width as Python ints when known at trace time, else tensors."""
    dynamic = tf.shape(x)
    height = x.shape[1] if x.shape[1] is not None else dynamic[1]
    width = x.shape[2] if x.shape[2] is not None else dynamic[2]
    return height, width


# ----------------------------------------------------------------------------- padding


def pad_hw(x: tf.Tensor, pad_h: int, pad_w: int, mode: str) -> tf.Tensor:
    """Pad H and W. ``mode``: 'nearest' (edge), 'reflect' (SciPy: d c b a | a b c d),
    'mirror' (SciPy/OpenCV reflect-101: d c b | a b c d)."""
    if mode == "nearest":
        return _pad_edge(x, pad_h, pad_w)
    tf_mode = {"reflect": "SYMMETRIC", "mirror": "REFLECT"}[mode]
    return tf.pad(x, [[0, 0], [pad_h, pad_h], [pad_w, pad_w], [0, 0]], mode=tf_mode)


def _pad_edge(x: tf.Tensor, pad_h: int, pad_w: int) -> tf.Tensor:
    height, width = image_hw(x)
    rows = tf.clip_by_value(tf.range(-pad_h, height + pad_h), 0, height - 1)
    cols = tf.clip_by_value(tf.range(-pad_w, width + pad_w), 0, width - 1)
    return tf.gather(tf.gather(x, rows, axis=1), cols, axis=2)


# ----------------------------------------------------------------------------- filters


def gaussian_kernel_1d(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """SciPy's ``gaussian_filter1d`` kernel: radius ``int(truncate * sigma + 0.5)``."""
    radius = int(truncate * float(sigma) + 0.5)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (offsets / float(sigma)) ** 2)
    return kernel / kernel.sum()


def depthwise_filter(x: tf.Tensor, kernel_2d: np.ndarray, mode: str) -> tf.Tensor:
    """Correlate every channel with the same 2-D kernel (OpenCV ``filter2D`` semantics)."""
    k_h, k_w = kernel_2d.shape
    padded = pad_hw(x, k_h // 2, k_w // 2, mode)
    channels = x.shape[-1] if x.shape[-1] is not None else tf.shape(x)[-1]
    kernel = tf.constant(kernel_2d, tf.float32)[:, :, None, None]
    kernel = tf.tile(kernel, [1, 1, channels, 1])
    return tf.nn.depthwise_conv2d(padded, kernel, [1, 1, 1, 1], "VALID")


def separable_filter(x: tf.Tensor, kernel_1d: np.ndarray, mode: str) -> tf.Tensor:
    """Filter along H then W with the same symmetric 1-D kernel."""
    size = kernel_1d.shape[0]
    x = depthwise_filter(x, kernel_1d.reshape(size, 1), mode)
    return depthwise_filter(x, kernel_1d.reshape(1, size), mode)


def gaussian_blur(x: tf.Tensor, sigma: float, mode: str = "nearest",
                  truncate: float = 4.0) -> tf.Tensor:
    """``skimage.filters.gaussian`` on H and W (channels untouched)."""
    return separable_filter(x, gaussian_kernel_1d(sigma, truncate), mode)


def box_blur3(x: tf.Tensor) -> tf.Tensor:
    """``cv2.blur(x, (3, 3))`` with OpenCV's default reflect-101 border."""
    return separable_filter(x, np.full(3, 1.0 / 3.0), "mirror")


# ----------------------------------------------------------------------------- sampling


def gather_rows_cols(x: tf.Tensor, rows: tf.Tensor, cols: tf.Tensor) -> tf.Tensor:
    """``x[b, rows[b], :][:, :, cols[b]]`` for per-image index vectors ``[B, H'] / [B, W']``."""
    x = tf.gather(x, rows, axis=1, batch_dims=1)
    return tf.gather(x, cols, axis=2, batch_dims=1)


def linear_resample_axis(x: tf.Tensor, coords: tf.Tensor, axis: int) -> tf.Tensor:
    """Linear interpolation of ``x`` at fractional ``coords`` (1-D, in range) along ``axis``."""
    size = tf.shape(x)[axis]
    low = tf.clip_by_value(tf.cast(tf.floor(coords), tf.int32), 0, size - 1)
    high = tf.minimum(low + 1, size - 1)
    frac = tf.cast(coords - tf.cast(low, coords.dtype), tf.float32)
    shape = [1, 1, 1, 1]
    shape[axis] = -1
    frac = tf.reshape(frac, shape)
    return tf.gather(x, low, axis=axis) * (1.0 - frac) + tf.gather(x, high, axis=axis) * frac


def clipped_zoom(x: tf.Tensor, zoom: float, height, width) -> tf.Tensor:
    """imagecorruptions' ``clipped_zoom``: centre crop of ceil(size/zoom), order-1 SciPy zoom
    (align-corners mapping, output round(crop*zoom)), then the top-left ``height x width``."""
    axes = []
    for axis, size in ((1, height), (2, width)):
        size_f = tf.cast(size, tf.float64)
        crop = tf.cast(tf.math.ceil(size_f / zoom), tf.int32)
        top = (size - crop) // 2
        zoomed = tf.cast(tf.round(tf.cast(crop, tf.float64) * zoom), tf.int32)
        step = tf.cast(crop - 1, tf.float64) / tf.cast(tf.maximum(zoomed - 1, 1), tf.float64)
        coords = tf.cast(tf.range(size), tf.float64) * step + tf.cast(top, tf.float64)
        axes.append((axis, coords))
    for axis, coords in axes:
        x = linear_resample_axis(x, coords, axis)
    return x


def bilinear_sample(x: tf.Tensor, rows: tf.Tensor, cols: tf.Tensor, mode: str) -> tf.Tensor:
    """``map_coordinates(order=1)`` at per-pixel coordinates ``[B, H, W]``; out-of-range
    coordinates are folded back with SciPy's 'reflect' rule (half-sample symmetric)."""
    height, width = image_hw(x)
    row0, row_frac = _split_coord(rows)
    col0, col_frac = _split_coord(cols)
    corners = []
    for d_row in (0, 1):
        for d_col in (0, 1):
            r = _fold_index(row0 + d_row, height, mode)
            c = _fold_index(col0 + d_col, width, mode)
            corners.append(tf.gather_nd(x, tf.stack([r, c], axis=-1), batch_dims=1))
    wr, wc = row_frac[..., None], col_frac[..., None]
    top = corners[0] * (1 - wc) + corners[1] * wc
    bottom = corners[2] * (1 - wc) + corners[3] * wc
    return top * (1 - wr) + bottom * wr


def _split_coord(coords: tf.Tensor):
    base = tf.floor(coords)
    return tf.cast(base, tf.int32), coords - base


def _fold_index(index: tf.Tensor, size: tf.Tensor, mode: str) -> tf.Tensor:
    if mode != "reflect":
        return tf.clip_by_value(index, 0, size - 1)
    period = 2 * size
    folded = tf.math.floormod(index, period)
    return tf.where(folded >= size, period - 1 - folded, folded)


# ----------------------------------------------------------------------------- motion blur


def motion_blur(x: tf.Tensor, radius: int, sigma: float, angles_deg: tf.Tensor) -> tf.Tensor:
    """Shift-and-sum motion blur along a per-image angle (imagecorruptions / ImageMagick
    geometry): tap i samples the image ``ceil(i*dir - 0.5)`` pixels away, edges replicated,
    weighted by a half Gaussian; taps beyond the image size end the sum."""
    width = 2 * radius + 1
    weights = np.exp(-(np.arange(width) ** 2) / (2.0 * sigma ** 2))
    weights = weights / weights.sum()
    height_px, width_px = image_hw(x)
    angles = tf.cast(angles_deg, tf.float64) * (math.pi / 180.0)
    unit_y, unit_x = tf.sin(angles), tf.cos(angles)
    rows = tf.range(height_px)[None, :]
    cols = tf.range(width_px)[None, :]
    blurred = tf.zeros_like(x)
    alive = tf.ones_like(angles, tf.bool)
    for tap in range(width):
        off_y = tf.cast(tf.math.ceil(tap * unit_y - 0.5), tf.int32)
        off_x = tf.cast(tf.math.ceil(tap * unit_x - 0.5), tf.int32)
        alive = alive & (tf.abs(off_y) < height_px) & (tf.abs(off_x) < width_px)
        src_rows = tf.clip_by_value(rows + off_y[:, None], 0, height_px - 1)
        src_cols = tf.clip_by_value(cols + off_x[:, None], 0, width_px - 1)
        shifted = gather_rows_cols(x, src_rows, src_cols)
        gate = tf.cast(alive, tf.float32)[:, None, None, None] * float(weights[tap])
        blurred = blurred + gate * shifted
    return blurred


# ----------------------------------------------------------------------------- colour


LUMA_WEIGHTS = (0.2989, 0.5870, 0.1140)  # imagecorruptions' rgb2gray
CV_GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # cv2.COLOR_RGB2GRAY


def rgb_to_gray(x: tf.Tensor, weights=LUMA_WEIGHTS) -> tf.Tensor:
    return tf.reduce_sum(x * tf.constant(weights, tf.float32), axis=-1, keepdims=True)


def uniform_ints(seed: tf.Tensor, low, high) -> tf.Tensor:
    """One integer in ``[low, high)`` from a seed (``high > low``)."""
    return tf.random.stateless_uniform([], seed, minval=low, maxval=high, dtype=tf.int32)

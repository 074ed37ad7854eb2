"""TF stand-ins for the OpenCV steps of the 'water' spatter mask.

The reference runs Canny -> distance transform (truncated at 20) -> 3x3 blur ->
histogram equalisation -> emboss filter -> 3x3 blur on the thresholded liquid layer.
Here Canny is re-implemented (Sobel, L1 magnitude, non-maximum suppression,
hysteresis by repeated dilation) and the distance transform is a truncated 3x3
chamfer; both are close, not bit-exact, which is fine for a random corruption.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from assembled_cnn.robustness.corruptions import _tf_ops as ops

CANNY_LOW, CANNY_HIGH = 50.0, 150.0
DISTANCE_CAP = 20.0
EMBOSS_KERNEL = np.array([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]], np.float64)
_TAN_22_5 = math.tan(math.radians(22.5))
_TAN_67_5 = math.tan(math.radians(67.5))


def _neighbour(x: tf.Tensor, d_row: int, d_col: int, fill: float) -> tf.Tensor:
    """``x[r + d_row, c + d_col]`` with ``fill`` outside the image."""
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=fill)
    height, width = ops.image_hw(x)
    return padded[:, 1 + d_row:1 + d_row + height, 1 + d_col:1 + d_col + width, :]


def canny(gray_u8: tf.Tensor, hysteresis_steps: int = 32) -> tf.Tensor:
    """Binary edge map (float 0/1) of a ``[B, H, W, 1]`` image with values 0..255."""
    sobel = np.array([1.0, 2.0, 1.0])[:, None] * np.array([-1.0, 0.0, 1.0])[None, :]
    grad_x = ops.depthwise_filter(gray_u8, sobel, "nearest")
    grad_y = ops.depthwise_filter(gray_u8, sobel.T, "nearest")
    abs_x, abs_y = tf.abs(grad_x), tf.abs(grad_y)
    magnitude = abs_x + abs_y
    horizontal = abs_y < abs_x * _TAN_22_5
    vertical = abs_y > abs_x * _TAN_67_5
    same_sign = (grad_x * grad_y) >= 0
    peak_h = (magnitude > _neighbour(magnitude, 0, -1, 0)) & (magnitude >= _neighbour(magnitude, 0, 1, 0))
    peak_v = (magnitude > _neighbour(magnitude, -1, 0, 0)) & (magnitude >= _neighbour(magnitude, 1, 0, 0))
    peak_d1 = (magnitude > _neighbour(magnitude, -1, -1, 0)) & (magnitude > _neighbour(magnitude, 1, 1, 0))
    peak_d2 = (magnitude > _neighbour(magnitude, -1, 1, 0)) & (magnitude > _neighbour(magnitude, 1, -1, 0))
    peak_diag = tf.where(same_sign, peak_d1, peak_d2)
    peak = tf.where(horizontal, peak_h, tf.where(vertical, peak_v, peak_diag))
    weak = tf.cast(peak & (magnitude > CANNY_LOW), tf.float32)
    edges = tf.cast(peak & (magnitude > CANNY_HIGH), tf.float32)
    for _ in range(hysteresis_steps):
        grown = tf.nn.max_pool2d(edges, 3, 1, "SAME")
        edges = grown * weak
    return edges


def truncated_distance(edges: tf.Tensor, cap: float = DISTANCE_CAP) -> tf.Tensor:
    """Distance to the nearest edge pixel, capped at ``cap`` (3x3 chamfer, 1 / sqrt 2)."""
    dist = tf.where(edges > 0, 0.0, cap)
    steps = [(dr, dc, math.hypot(dr, dc)) for dr in (-1, 0, 1) for dc in (-1, 0, 1)
             if (dr, dc) != (0, 0)]
    for _ in range(int(cap)):
        candidates = [_neighbour(dist, dr, dc, cap) + cost for dr, dc, cost in steps]
        dist = tf.minimum(dist, tf.reduce_min(tf.stack(candidates, axis=0), axis=0))
    return tf.minimum(dist, cap)


def equalize_hist(image_u8: tf.Tensor) -> tf.Tensor:
    """``cv2.equalizeHist`` per image on integer-valued floats 0..255."""

    def one(image):
        values = tf.cast(tf.reshape(image, [-1]), tf.int32)
        hist = tf.math.bincount(values, minlength=256, maxlength=256, dtype=tf.float32)
        cdf = tf.cumsum(hist)
        total = tf.cast(tf.size(values), tf.float32)
        first = tf.gather(hist, tf.argmax(tf.cast(hist > 0, tf.int32)))
        scale = 255.0 / tf.maximum(total - first, 1.0)
        lut = tf.clip_by_value(tf.round((cdf - first) * scale), 0.0, 255.0)
        return tf.reshape(tf.gather(lut, values), tf.shape(image))

    return tf.map_fn(one, image_u8, fn_output_signature=tf.float32)


def water_mask(liquid: tf.Tensor) -> tf.Tensor:
    """Normalised water-drop mask ``[B, H, W, 1]`` in [0, 1] from the thresholded liquid."""
    liquid_u8 = tf.floor(tf.clip_by_value(liquid * 255.0, 0.0, 255.0))
    dist = truncated_distance(canny(liquid_u8))
    dist = tf.floor(ops.box_blur3(dist))
    dist = equalize_hist(dist)
    dist = tf.clip_by_value(tf.round(ops.depthwise_filter(dist, EMBOSS_KERNEL, "mirror")), 0.0, 255.0)
    dist = ops.box_blur3(dist)
    mask = liquid_u8 * dist
    return mask / tf.maximum(tf.reduce_max(mask, axis=[1, 2, 3], keepdims=True), 1e-12)

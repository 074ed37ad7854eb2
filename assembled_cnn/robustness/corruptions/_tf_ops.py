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

try:  # XLA would otherwise fuse (and so recompute) a costly producer into every gather tap
    from tensorflow.compiler.tf2xla.python.xla import optimization_barrier as _barrier
except ImportError:  # pragma: no cover - older/newer TF without it: plain identity
    _barrier = None

_STREAM_STRIDE = 1 << 44  # keeps sub-streams of one image apart from other (seed, corruption) keys


def stream_seeds(seeds: tf.Tensor, stream: int) -> tf.Tensor:
    """Independent per-image seeds for the ``stream``-th random draw of a corruption."""
    offset = tf.constant([stream * _STREAM_STRIDE, 0], tf.int64)
    return seeds + offset


def per_image(draw: Callable[[tf.Tensor], tf.Tensor], seeds: tf.Tensor,
              dtype: tf.DType = tf.float32) -> tf.Tensor:
    """Apply ``draw(seed)`` to every image seed; the result is stacked along axis 0."""
    return tf.map_fn(draw, seeds, fn_output_signature=dtype)


XLA_MIN_PIXELS = 128 * 128  # below this, XLA's compile time outweighs its speed-up


def use_xla(height, width) -> bool:
    """Whether the fast path compiles with XLA: static sizes of at least ``XLA_MIN_PIXELS``.
    XLA and plain TF graphs agree within float round-off (outputs within 1 LSB)."""
    return isinstance(height, int) and isinstance(width, int) and height * width >= XLA_MIN_PIXELS


def maybe_jit(fn, jit: bool):
    """``tf.function`` of ``fn``, XLA-compiled if ``jit``."""
    return tf.function(fn, jit_compile=jit, autograph=False)


def materialize(x: tf.Tensor) -> tf.Tensor:
    """Identity that makes XLA compute ``x`` once into a buffer instead of fusing it into each
    consumer (no-op outside XLA)."""
    if _barrier is None:
        return tf.identity(x)
    return _barrier(x)[0]


def image_shape(x: tf.Tensor):
    """``[H, W, C]`` of a batch: a Python list when static (so a draw that only needs the shape
    does not depend on the pixel values), else a tensor."""
    if x.shape[1:].is_fully_defined():
        return x.shape[1:].as_list()
    return tf.shape(x)[1:]


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
    """Edge replication by concatenating repeated border rows/columns (no gathers, which XLA
    would otherwise recompute inside every consumer)."""
    if pad_h:
        top = tf.repeat(x[:, :1], pad_h, axis=1)
        bottom = tf.repeat(x[:, -1:], pad_h, axis=1)
        x = tf.concat([top, x, bottom], axis=1)
    if pad_w:
        left = tf.repeat(x[:, :, :1], pad_w, axis=2)
        right = tf.repeat(x[:, :, -1:], pad_w, axis=2)
        x = tf.concat([left, x, right], axis=2)
    return x


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


def shift_filter_1d(x: tf.Tensor, kernel_1d: np.ndarray, axis: int, mode: str) -> tf.Tensor:
    """Correlation along ``axis`` (1 = H, 2 = W) as a weighted sum of shifted slices: the same
    result as :func:`depthwise_filter` with a 1-D kernel, but XLA fuses it into one loop
    (XLA's CPU depthwise convolution is several times slower than TF's)."""
    size = kernel_1d.shape[0]
    pad = size // 2
    padded = pad_hw(x, pad if axis == 1 else 0, pad if axis == 2 else 0, mode)
    length = tf.shape(x)[axis]
    out = None
    for tap in range(size):
        if axis == 1:
            part = padded[:, tap:tap + length]
        else:
            part = padded[:, :, tap:tap + length]
        term = float(kernel_1d[tap]) * part
        out = term if out is None else out + term
    return out


def gaussian_blur(x: tf.Tensor, sigma: float, mode: str = "nearest",
                  truncate: float = 4.0, shifts: bool = False) -> tf.Tensor:
    """``skimage.filters.gaussian`` on H and W (channels untouched); ``shifts`` selects the
    shift-and-add form for XLA."""
    kernel = gaussian_kernel_1d(sigma, truncate)
    if shifts:
        return shift_filter_1d(materialize(shift_filter_1d(x, kernel, 1, mode)), kernel, 2, mode)
    return separable_filter(x, kernel, mode)


def fft_filter(x: tf.Tensor, kernel_2d: np.ndarray, mode: str) -> tf.Tensor:
    """:func:`depthwise_filter` through the FFT (float32, differences ~1e-6): pad like the
    direct filter, multiply spectra, keep the valid part. Needs static H and W."""
    k_h, k_w = kernel_2d.shape
    padded = pad_hw(x, k_h // 2, k_w // 2, mode)
    height, width = int(padded.shape[1]), int(padded.shape[2])
    # circular convolution of length >= padded size only wraps into the discarded border
    fft_h, fft_w = _fft_size(height), _fft_size(width)
    flipped = np.zeros((fft_h, fft_w))
    flipped[:k_h, :k_w] = kernel_2d[::-1, ::-1]
    spectrum = tf.constant(np.fft.rfft2(flipped).astype(np.complex64))
    planes = tf.transpose(padded, [0, 3, 1, 2])
    out = tf.signal.irfft2d(tf.signal.rfft2d(planes, [fft_h, fft_w]) * spectrum, [fft_h, fft_w])
    out = out[:, :, k_h - 1:height, k_w - 1:width]
    return tf.transpose(out, [0, 2, 3, 1])


def _fft_size(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n (fast FFT lengths)."""
    best = 1 << (n - 1).bit_length()
    p2 = 1
    while p2 < 2 * n:
        p3 = p2
        while p3 < 2 * n:
            p5 = p3
            while p5 < 2 * n:
                if n <= p5 < best:
                    best = p5
                p5 *= 5
            p3 *= 3
        p2 *= 2
    return best


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

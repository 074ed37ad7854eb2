"""Anti-aliased downsampling (Zhang 2019), as `nets/blocks.py:anti_aliased_downsample`.

A fixed binomial low-pass filter, applied depthwise after reflect padding, then strided.
"""

from __future__ import annotations

import math

import keras
import numpy as np


def binomial_filter(size: int) -> np.ndarray:
    """The normalised 2-D binomial filter: outer product of row `size` of Pascal's triangle."""
    if not 1 <= size <= 7:
        raise ValueError(f"anti_alias_filter_size={size}: expected 1..7")
    row = np.array([math.comb(size - 1, k) for k in range(size)], dtype=np.float64)
    kernel = np.outer(row, row)
    return (kernel / kernel.sum()).astype(np.float32)


class BlurPool2D(keras.layers.Layer):
    """Binomial blur with REFLECT padding of floor((k-1)/2) per side, then stride.

    k=1 is plain subsampling. (The original's k=1 slice assumed NCHW and would have subsampled
    width and channels of an NHWC tensor; we subsample height and width.)
    """

    def __init__(self, filter_size: int = 3, strides: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.filter_size = int(filter_size)
        self.strides = int(strides)
        self._kernel_2d = binomial_filter(self.filter_size)

    def call(self, inputs):
        s = self.strides
        if self.filter_size == 1:
            return inputs[:, ::s, ::s, :]
        pad = (self.filter_size - 1) // 2
        x = keras.ops.pad(inputs, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="reflect") if pad else inputs
        channels = inputs.shape[-1]
        kernel = np.tile(self._kernel_2d[:, :, None, None], (1, 1, channels, 1))
        kernel = keras.ops.convert_to_tensor(kernel, dtype=inputs.dtype)
        return keras.ops.depthwise_conv(x, kernel, strides=s, padding="valid")

    def compute_output_shape(self, input_shape):
        def out(n):
            if n is None:
                return None
            if self.filter_size == 1:
                return -(-n // self.strides)
            pad = (self.filter_size - 1) // 2
            return (n + 2 * pad - self.filter_size) // self.strides + 1
        b, h, w, c = input_shape
        return (b, out(h), out(w), c)

    def get_config(self):
        return {**super().get_config(), "filter_size": self.filter_size, "strides": self.strides}

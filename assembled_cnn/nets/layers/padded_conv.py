"""Conv2D with the original's fixed padding (`conv2d_fixed_padding`) for strided convs.

Numerically it is always ZeroPadding2D + VALID conv. How it is computed is chosen per call,
from measurements on a 2-core x86 CPU (oneDNN), resnet50:
- float32 inference: padding passed to `tf.nn.conv2d` (no Pad op; 1.08x -> 1.16x the speed of
  keras.applications at 224 px);
- training and bf16/fp16: explicit `tf.pad` then VALID, because the explicit-padding kernels'
  gradients and their bf16 versions fall back to slow paths (training 63 -> 28 img/s at 64 px).
"""

from __future__ import annotations

import keras
import tensorflow as tf


class FixedPaddingConv2D(keras.layers.Conv2D):
    def __init__(self, *args, pad: tuple[int, int] = (0, 0), **kwargs):
        kwargs["padding"] = "valid"
        super().__init__(*args, **kwargs)
        self.pad = tuple(int(p) for p in pad)

    def call(self, inputs, training=None):
        before, after = self.pad
        paddings = [[0, 0], [before, after], [before, after], [0, 0]]
        if training or inputs.dtype != tf.float32:
            inputs, paddings = tf.pad(inputs, paddings), "VALID"
        outputs = tf.nn.conv2d(inputs, self.kernel, strides=[1, *self.strides, 1], padding=paddings,
                               dilations=[1, *self.dilation_rate, 1])
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.bias)
        return self.activation(outputs) if self.activation is not None else outputs

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        grow = sum(self.pad)
        return super().compute_output_shape((b, None if h is None else h + grow, None if w is None else w + grow, c))

    def get_config(self):
        return {**super().get_config(), "pad": self.pad}

"""1x1 convolution that runs as a matrix product on small feature maps.

A 1x1 conv is a matmul of [batch·H·W, C_in] by [C_in, C_out]. On small maps with many channels
(stage 4 of a ResNet: 7x7 at 224 px, 2x2 at 64 px) oneDNN's convolution picks a slow kernel,
while its matmul runs at full speed. Measured on a 2-core x86 CPU, fp32, batch 64 at 2x2x2048 ->
512: conv 9.4 ms, matmul 3.1 ms; at 7x7x2048 -> 512 (batch 16) 11.3 ms vs 8.2 ms; from 8x8 up
the two are equal, and on large maps the conv (with its fused epilogue) is the better choice.

A strided 1x1 conv (the projection shortcut) is "subsample, then 1x1", which is exactly the
original's `conv2d_fixed_padding` for kernel 1 (no padding, VALID). The variable is the usual
[1, 1, C_in, C_out] kernel, so checkpoints and names do not change.

The matmul form is used on the CPU only (`conv_paths.py`); on GPUs and other devices, where
nothing was measured, every 1x1 conv runs as `tf.nn.conv2d`.
"""

from __future__ import annotations

import keras

from assembled_cnn.nets.layers import backend, conv_paths

tf = backend.tensorflow()

# Output positions (H·W) up to which the matmul form is used; measured crossover (see above).
MATMUL_MAX_POSITIONS = 64


class PointwiseConv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` with kernel 1 and VALID padding, computed as a matmul when small."""

    def __init__(self, filters: int, strides: int | tuple[int, int] = 1, **kwargs):
        kwargs.pop("kernel_size", None)
        kwargs.pop("padding", None)
        super().__init__(filters, 1, strides=strides, padding="valid", **kwargs)

    def _use_matmul(self, inputs) -> bool:
        height, width = inputs.shape[1], inputs.shape[2]
        if height is None or width is None or self.dilation_rate != (1, 1):
            return False
        if not conv_paths.use_tuned_paths(getattr(self, "kernel", None)):
            return False
        out_h, out_w = -(-height // self.strides[0]), -(-width // self.strides[1])
        return out_h * out_w <= MATMUL_MAX_POSITIONS

    def call(self, inputs):
        if tf is None:  # other Keras backends: the plain 1x1 VALID conv of keras.layers.Conv2D
            return super().call(inputs)
        if self._use_matmul(inputs):
            if self.strides != (1, 1):
                inputs = inputs[:, :: self.strides[0], :: self.strides[1], :]
            _, height, width, channels = inputs.shape
            rows = tf.reshape(inputs, [-1, channels])
            outputs = tf.matmul(rows, tf.reshape(self.kernel, [channels, self.filters]))
            if self.use_bias:
                outputs = tf.nn.bias_add(outputs, self.bias)
            outputs = tf.reshape(outputs, [-1, height, width, self.filters])
        else:
            outputs = tf.nn.conv2d(inputs, self.kernel, strides=[1, *self.strides, 1], padding="VALID")
            if self.use_bias:
                outputs = tf.nn.bias_add(outputs, self.bias)
        return self.activation(outputs) if self.activation is not None else outputs

    def get_config(self):
        config = super().get_config()
        config.pop("kernel_size", None)
        config.pop("padding", None)
        return config

"""Conv2D with the original's fixed padding (`conv2d_fixed_padding`).

Numerically it is always ZeroPadding2D(before, after) + VALID conv; at stride 1 that is exactly
SAME padding, so every k x k conv of the networks goes through this layer. How it is computed
is chosen per call, from measurements on a 2-core x86 CPU (oneDNN), resnet50:
- as one matmul of the k·k shifted inputs (im2col) when the map is tiny and the conv wide: at
  least 256 input channels and 512 filters, and at most 4 output positions (stage 4 at 64 px:
  2x2), or at most 16 at stride 1 for inference. oneDNN's conv kernels are slow there: 3x3,
  2x2 map, 512 -> 1024 at batch 64: 33.6 -> 12.4 ms inference, 129 -> 45 ms forward + backward;
  4x4, 512 -> 1024: 57.6 -> 43.3 ms inference. With fewer channels (2x2, 128 -> 256: 0.6x
  training), in training at 4x4 (0.8x), strided from 8x8 or on 7x7 maps and larger the conv
  is as fast or faster;
- stride 1: SAME padding in the conv op;
- strided, float32 inference: padding passed to `tf.nn.conv2d` (no Pad op; 1.08x -> 1.16x the
  speed of keras.applications at 224 px);
- strided, training and bf16/fp16: explicit `tf.pad` then VALID, because the explicit-padding
  kernels' gradients and their bf16 versions fall back to slow paths (training 63 -> 28 img/s).

These rules are used on the CPU only (`conv_paths.py`); on GPUs and other devices, where nothing
was measured, the layer runs the plain conv: SAME at stride 1, else `tf.pad` then VALID. Under
Keras's other backends (`backend.py`) it is always `keras.ops.pad` then Keras's VALID conv.
"""

from __future__ import annotations

import keras

from assembled_cnn.nets.layers import backend, conv_paths

tf = backend.tensorflow()

# Where the im2col matmul is used (measured crossovers, see above): at least 256 input channels
# and 512 filters, and outputs of at most 4 positions, or (inference, stride 1) at most 16.
IM2COL_MIN_CHANNELS = 256
IM2COL_MIN_FILTERS = 512
IM2COL_MAX_POSITIONS = 4
IM2COL_INFERENCE_MAX_POSITIONS = 16


class FixedPaddingConv2D(keras.layers.Conv2D):
    def __init__(self, *args, pad: tuple[int, int] = (0, 0), **kwargs):
        kwargs["padding"] = "valid"
        super().__init__(*args, **kwargs)
        self.pad = tuple(int(p) for p in pad)

    def _output_size(self, inputs) -> tuple[int | None, int | None]:
        grow = sum(self.pad)
        sizes = []
        for size, kernel, stride in zip(inputs.shape[1:3], self.kernel_size, self.strides):
            sizes.append(None if size is None else (size + grow - kernel) // stride + 1)
        return sizes[0], sizes[1]

    def _tuned(self) -> bool:
        """CPU-measured paths allowed on this layer's device (`conv_paths.use_tuned_paths`)."""
        return conv_paths.use_tuned_paths(getattr(self, "kernel", None))

    def _use_im2col(self, inputs, training=None) -> bool:
        if not self._tuned():
            return False
        out_h, out_w = self._output_size(inputs)
        channels = inputs.shape[-1]
        if (out_h is None or out_w is None or channels is None or self.dilation_rate != (1, 1)
                or self.groups != 1 or channels < IM2COL_MIN_CHANNELS or self.filters < IM2COL_MIN_FILTERS):
            return False
        positions = out_h * out_w
        wide_inference = not training and self.strides == (1, 1) and positions <= IM2COL_INFERENCE_MAX_POSITIONS
        return positions <= IM2COL_MAX_POSITIONS or wide_inference

    def _im2col(self, inputs):
        """The conv as one matmul: [positions, k·k·C_in] x [k·k·C_in, C_out]."""
        before, after = self.pad
        padded = tf.pad(inputs, [[0, 0], [before, after], [before, after], [0, 0]])
        (out_h, out_w), (k_h, k_w), (s_h, s_w) = self._output_size(inputs), self.kernel_size, self.strides
        shifted = [padded[:, i:i + s_h * (out_h - 1) + 1:s_h, j:j + s_w * (out_w - 1) + 1:s_w, :]
                   for i in range(k_h) for j in range(k_w)]
        patches = tf.reshape(tf.concat(shifted, axis=-1), [-1, k_h * k_w * inputs.shape[-1]])
        outputs = tf.matmul(patches, tf.reshape(self.kernel, [patches.shape[-1], self.filters]))
        return tf.reshape(outputs, [-1, out_h, out_w, self.filters])

    def _conv(self, inputs, training):
        if self._use_im2col(inputs, training):
            return self._im2col(inputs)
        before, after = self.pad
        paddings = [[0, 0], [before, after], [before, after], [0, 0]]
        if self.strides == (1, 1) and before == after:
            paddings = "SAME"
        elif training or inputs.dtype != tf.float32 or not self._tuned():
            inputs, paddings = tf.pad(inputs, paddings), "VALID"
        return tf.nn.conv2d(inputs, self.kernel, strides=[1, *self.strides, 1], padding=paddings,
                            dilations=[1, *self.dilation_rate, 1])

    def call(self, inputs, training=None):
        if tf is None:  # other Keras backends: explicit padding, then keras.layers.Conv2D (VALID)
            before, after = self.pad
            return super().call(keras.ops.pad(inputs, [[0, 0], [before, after], [before, after], [0, 0]]))
        outputs = self._conv(inputs, training)
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.bias)
        return self.activation(outputs) if self.activation is not None else outputs

    def compute_output_shape(self, input_shape):
        b, h, w, c = input_shape
        grow = sum(self.pad)
        return super().compute_output_shape((b, None if h is None else h + grow, None if w is None else w + grow, c))

    def get_config(self):
        return {**super().get_config(), "pad": self.pad}

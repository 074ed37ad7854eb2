"""Cosine logits: the classifier of a cosine-softmax (ArcFace) head.

`logits = scale * cos(x, w_c)`: the features and each class weight are L2-normalised, so the
logits only depend on angles. The additive angular margin of ArcFace is applied to the target
class by the loss (`train.losses.arcface_logits`), not here: at inference the head returns the
plain scaled cosines. Computed in float32, like the dense classifier.
"""

from __future__ import annotations

import keras
from keras import ops


def _l2_normalize(x, axis: int, epsilon: float = 1e-12):
    """x / max(||x||, sqrt(eps)) along `axis`: `tf.math.l2_normalize`'s formula in keras.ops."""
    return x * ops.rsqrt(ops.maximum(ops.sum(ops.square(x), axis=axis, keepdims=True), epsilon))


class CosineLogits(keras.layers.Layer):
    def __init__(self, units: int, scale: float = 30.0, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if scale <= 0:
            raise ValueError(f"cosine logits: scale must be > 0, got {scale}")
        self.units, self.scale = int(units), float(scale)

    def build(self, input_shape):
        self.kernel = self.add_weight(name="kernel", shape=(int(input_shape[-1]), self.units),
                                      initializer="glorot_uniform", trainable=True)

    def call(self, inputs):
        x = _l2_normalize(ops.cast(inputs, "float32"), axis=-1)
        w = _l2_normalize(ops.cast(self.kernel, "float32"), axis=0)
        return self.scale * ops.matmul(x, w)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "scale": self.scale}

"""Cosine logits: the classifier of a cosine-softmax (ArcFace) head.

`logits = scale * cos(x, w_c)`: the features and each class weight are L2-normalised, so the
logits only depend on angles. The additive angular margin of ArcFace is applied to the target
class by the loss (`train.losses.arcface_logits`), not here: at inference the head returns the
plain scaled cosines. Computed in float32, like the dense classifier.
"""

from __future__ import annotations

import keras
import tensorflow as tf


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
        x = tf.math.l2_normalize(tf.cast(inputs, tf.float32), axis=-1, epsilon=1e-12)
        w = tf.math.l2_normalize(tf.cast(self.kernel, tf.float32), axis=0, epsilon=1e-12)
        return self.scale * tf.linalg.matmul(x, w)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "scale": self.scale}

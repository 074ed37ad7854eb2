"""The weight-free parts of the channel-attention blocks (SE, SK), as small Keras layers.

Their convolutions and BNs are ordinary layers built by the caller (so that they carry the
original checkpoint names); these layers only squeeze, split and recombine.
"""

from __future__ import annotations

import keras
import tensorflow as tf


class SplitSumPool(keras.layers.Layer):
    """SK 'fuse' input: split channels into two branches U1, U2 and return GAP(U1 + U2)."""

    def call(self, inputs):
        u1, u2 = tf.split(inputs, 2, axis=-1)
        return tf.reduce_mean(u1 + u2, axis=[1, 2], keepdims=True)

    def compute_output_shape(self, input_shape):
        c = None if input_shape[-1] is None else input_shape[-1] // 2
        return (input_shape[0], 1, 1, c)


class SelectKernels(keras.layers.Layer):
    """SK 'select': softmax across the two branches per channel, then the weighted sum."""

    def call(self, inputs):
        features, logits = inputs
        u1, u2 = tf.split(features, 2, axis=-1)
        a1, a2 = tf.split(tf.cast(logits, tf.float32), 2, axis=-1)
        weights = tf.nn.softmax(tf.stack([a1, a2], axis=0), axis=0)
        weights = tf.cast(weights, features.dtype)
        return weights[0] * u1 + weights[1] * u2

    def compute_output_shape(self, input_shape):
        shape = input_shape[0]
        c = None if shape[-1] is None else shape[-1] // 2
        return (*shape[:-1], c)


class GlobalPool(keras.layers.Layer):
    """Spatial pooling of the head: mean (`gap`), generalised mean with p=3 (`gem`), or
    keepdims mean for the attention blocks. GeM is computed in float32, as the original."""

    def __init__(self, pool_type: str = "gap", keepdims: bool = False, gem_p: float = 3.0,
                 **kwargs):
        super().__init__(**kwargs)
        if pool_type not in ("gap", "gem"):
            raise ValueError(f"pool_type={pool_type!r}: GlobalPool supports 'gap' or 'gem'")
        self.pool_type, self.keepdims, self.gem_p = pool_type, keepdims, float(gem_p)

    def call(self, inputs):
        if self.pool_type == "gap":
            return tf.reduce_mean(inputs, axis=[1, 2], keepdims=self.keepdims)
        x = tf.maximum(tf.cast(inputs, tf.float32), 1e-6) ** self.gem_p
        pooled = tf.reduce_mean(x, axis=[1, 2], keepdims=self.keepdims) ** (1.0 / self.gem_p)
        return tf.cast(pooled, inputs.dtype)

    def compute_output_shape(self, input_shape):
        if self.keepdims:
            return (input_shape[0], 1, 1, input_shape[-1])
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "pool_type": self.pool_type, "keepdims": self.keepdims,
                "gem_p": self.gem_p}

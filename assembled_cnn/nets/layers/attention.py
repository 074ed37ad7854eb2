"""The weight-free parts of the channel-attention blocks (SE, SK), as small Keras layers.

Their convolutions and BNs are ordinary layers built by the caller (so that they carry the
original checkpoint names); these layers only squeeze, split and recombine.
"""

from __future__ import annotations

import keras
from keras import ops


class SplitSumPool(keras.layers.Layer):
    """SK 'fuse' input: split channels into two branches U1, U2 and return GAP(U1 + U2)."""

    def call(self, inputs):
        # GAP(U1 + U2) = GAP(U1) + GAP(U2): pool first, so the split and sum touch C values, not H*W*C.
        pooled = ops.mean(inputs, axis=[1, 2], keepdims=True)
        half = pooled.shape[-1] // 2
        return pooled[..., :half] + pooled[..., half:]

    def compute_output_shape(self, input_shape):
        c = None if input_shape[-1] is None else input_shape[-1] // 2
        return (input_shape[0], 1, 1, c)


class SelectKernels(keras.layers.Layer):
    """SK 'select': softmax across the two branches per channel, then the weighted sum."""

    def call(self, inputs):
        features, logits = inputs
        half = logits.shape[-1] // 2
        logits = ops.cast(logits, "float32")
        a1, a2 = logits[..., :half], logits[..., half:]
        # softmax over two = (sigmoid(a1 - a2), sigmoid(a2 - a1)); one multiply of the 2C-channel map
        # by both weights, then the sum of its two halves, avoids copying U1 and U2 out of it.
        weights = ops.cast(ops.concatenate([ops.sigmoid(a1 - a2), ops.sigmoid(a2 - a1)], axis=-1), features.dtype)
        weighted = features * weights
        return weighted[..., :half] + weighted[..., half:]

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
            return ops.mean(inputs, axis=[1, 2], keepdims=self.keepdims)
        x = ops.maximum(ops.cast(inputs, "float32"), 1e-6) ** self.gem_p
        pooled = ops.mean(x, axis=[1, 2], keepdims=self.keepdims) ** (1.0 / self.gem_p)
        return ops.cast(pooled, inputs.dtype)

    def compute_output_shape(self, input_shape):
        if self.keepdims:
            return (input_shape[0], 1, 1, input_shape[-1])
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "pool_type": self.pool_type, "keepdims": self.keepdims,
                "gem_p": self.gem_p}

"""DropBlock (Ghiasi et al. 2018) with the original's semantics (`nets/blocks.py:dropblock`).

The keep probability changes every step (a linear schedule in the trainer), so it lives in one
shared, non-checkpointed variable (`KeepProbability`) that every DropBlock layer of a model
reads; the trainer assigns it before each step.
"""

from __future__ import annotations

import keras
import tensorflow as tf


class KeepProbability:
    """A scalar tf.Variable shared by the DropBlock layers of one model (not a Keras weight)."""

    def __init__(self, value: float = 1.0):
        self.variable = tf.Variable(float(value), trainable=False, dtype=tf.float32,
                                    name="dropblock_keep_prob")

    def assign(self, value) -> None:
        self.variable.assign(tf.cast(value, tf.float32))

    def read(self) -> tf.Tensor:
        return tf.convert_to_tensor(self.variable)


def dropblock_mask(shape, keep_prob, block_size: int, gamma_scale: float, seed_generator):
    """Float mask of `shape` [N,H,W,C] whose zeros are `block_size`-wide square blocks.

    Seeds are Bernoulli(gamma) on the (H-bs+1) x (W-bs+1) grid of valid block centres, so
    that the expected dropped fraction is gamma_scale * (1 - keep_prob).
    """
    n, h, w, c = shape
    bs = block_size
    hw = tf.cast(h * w, tf.float32)
    valid = tf.cast((h - bs + 1) * (w - bs + 1), tf.float32)
    gamma = gamma_scale * (1.0 - keep_prob) * hw / float(bs * bs) / valid
    seeds_shape = tf.stack([n, h - bs + 1, w - bs + 1, c])
    uniform = keras.random.uniform(seeds_shape, seed=seed_generator)
    seeds = tf.cast(uniform < gamma, tf.float32)
    before, after = bs - 1 - (bs - 1) // 2, (bs - 1) // 2
    seeds = tf.pad(seeds, [[0, 0], [before, after], [before, after], [0, 0]])
    dropped = tf.nn.max_pool2d(seeds, ksize=bs, strides=1, padding="SAME")
    return 1.0 - dropped


class DropBlock(keras.layers.Layer):
    """Drops square blocks of a feature map during training; the identity otherwise.

    `shared_mask=True` is the original: one mask per channel shared by the whole batch.
    The block size is clamped to the feature map (small inputs in tests and fine-tuning).
    """

    def __init__(self, keep_prob: KeepProbability | None = None, block_size: int = 7,
                 gamma_scale: float = 1.0, shared_mask: bool = True, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.keep_prob = keep_prob or KeepProbability(1.0)
        self.block_size = int(block_size)
        self.gamma_scale = float(gamma_scale)
        self.shared_mask = bool(shared_mask)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _drop(self, inputs, keep_prob):
        h, w = inputs.shape[1], inputs.shape[2]
        bs = self.block_size if h is None or w is None else min(self.block_size, h, w)
        dyn = tf.shape(inputs)
        n = 1 if self.shared_mask else dyn[0]
        mask = dropblock_mask((n, dyn[1], dyn[2], dyn[3]), keep_prob, bs, self.gamma_scale,
                              self.seed_generator)
        scale = tf.cast(tf.size(mask), tf.float32) / (tf.reduce_sum(mask) + 1e-8)
        return inputs * tf.cast(mask * scale, inputs.dtype)

    def call(self, inputs, training=None):
        if not training or self.gamma_scale == 0.0:
            return inputs
        keep_prob = self.keep_prob.read()
        return tf.cond(keep_prob < 1.0, lambda: self._drop(inputs, keep_prob), lambda: tf.identity(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size,
                "gamma_scale": self.gamma_scale, "shared_mask": self.shared_mask}

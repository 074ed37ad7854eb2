"""DropBlock (Ghiasi et al. 2018) with the original's semantics (`nets/blocks.py:dropblock`).

The keep probability changes every step (a linear schedule in the trainer), so it lives in one
shared, non-checkpointed variable (`KeepProbability`) that every DropBlock layer of a model
reads; the trainer assigns it before each step. Written with keras.ops (`backend.py`).
"""

from __future__ import annotations

import keras
from keras import ops

from assembled_cnn.nets.layers import backend


class KeepProbability:
    """A scalar variable shared by the DropBlock layers of one model (not a Keras weight): a
    tf.Variable under TensorFlow (outside checkpoints); under JAX a keras.Variable that a compiled
    step maps to a traced value (`keras.StatelessScope`); a plain float under the eager backends."""

    def __init__(self, value: float = 1.0):
        tf = backend.tensorflow()
        if tf is not None:
            self.variable = tf.Variable(float(value), trainable=False, dtype=tf.float32, name="dropblock_keep_prob")
        elif keras.backend.backend() == "jax":
            self.variable = keras.Variable(float(value), trainable=False, dtype="float32", name="dropblock_keep_prob")
        else:
            self.variable = float(value)

    def assign(self, value) -> None:
        if isinstance(self.variable, float):
            self.variable = float(ops.convert_to_numpy(value))
        else:
            self.variable.assign(ops.cast(value, "float32"))

    def read(self):
        return ops.convert_to_tensor(self.variable, dtype="float32")


def dropblock_mask(shape, keep_prob, block_size: int, gamma_scale: float, seed_generator):
    """Float mask of `shape` [N,H,W,C] whose zeros are `block_size`-wide square blocks.

    Seeds are Bernoulli(gamma) on the (H-bs+1) x (W-bs+1) grid of valid block centres, so
    that the expected dropped fraction is gamma_scale * (1 - keep_prob).
    """
    n, h, w, c = shape
    bs = block_size
    hw = ops.cast(h * w, "float32")
    valid = ops.cast((h - bs + 1) * (w - bs + 1), "float32")
    gamma = gamma_scale * (1.0 - keep_prob) * hw / float(bs * bs) / valid
    seeds_shape = [n, h - bs + 1, w - bs + 1, c]
    tf = backend.tensorflow()
    if tf is not None:  # a shape of tensors (dynamic batch) is one tensor for TF's random ops
        seeds_shape = tf.stack(seeds_shape)
    uniform = keras.random.uniform(seeds_shape, seed=seed_generator)
    seeds = ops.cast(uniform < gamma, "float32")
    before, after = bs - 1 - (bs - 1) // 2, (bs - 1) // 2
    seeds = ops.pad(seeds, [[0, 0], [before, after], [before, after], [0, 0]])
    dropped = ops.max_pool(seeds, pool_size=bs, strides=1, padding="same")
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
        dyn = ops.shape(inputs)
        n = 1 if self.shared_mask else dyn[0]
        mask = dropblock_mask((n, dyn[1], dyn[2], dyn[3]), keep_prob, bs, self.gamma_scale,
                              self.seed_generator)
        scale = ops.cast(ops.size(mask), "float32") / (ops.sum(mask) + 1e-8)
        return inputs * ops.cast(mask * scale, inputs.dtype)

    def call(self, inputs, training=None):
        if not training or self.gamma_scale == 0.0:
            return inputs
        if isinstance(self.keep_prob.variable, float):  # eager backends: a Python float, no device read
            keep_prob = self.keep_prob.variable
            return self._drop(inputs, keep_prob) if keep_prob < 1.0 else inputs
        keep_prob = self.keep_prob.read()
        if not backend.is_tensorflow():  # JAX: no random state may change inside a cond branch
            return ops.where(keep_prob < 1.0, self._drop(inputs, keep_prob), inputs)
        return ops.cond(keep_prob < 1.0, lambda: self._drop(inputs, keep_prob), lambda: ops.copy(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size,
                "gamma_scale": self.gamma_scale, "shared_mask": self.shared_mask}

"""Stateless randomness helpers shared by every augmentation.

Every random choice in this package is drawn with a stateless op from an explicit
``seed`` (an int tensor of shape [2]).  That gives one code path for both modes of the
input pipeline: in deterministic mode the pipeline derives the seed from a global seed
and the element index, otherwise it draws a fresh seed per element.  A function that
receives ``seed=None`` draws one itself, so the ops are also usable standalone.
"""

from __future__ import annotations

import tensorflow as tf

_INT32_MAX = 2**31 - 1


def ensure_seed(seed=None) -> tf.Tensor:
    """Return ``seed`` as an int64 [2] tensor, drawing a fresh one when it is None."""
    if seed is None:
        return tf.random.uniform([2], 0, _INT32_MAX, dtype=tf.int64)
    seed = tf.convert_to_tensor(seed)
    if seed.dtype != tf.int64:
        seed = tf.cast(seed, tf.int64)
    return tf.reshape(seed, [2])


def split_seed(seed, num: int) -> list[tf.Tensor]:
    """Split one seed into ``num`` independent seeds (a Python list of [2] tensors)."""
    seeds = tf.random.experimental.stateless_split(ensure_seed(seed), num=num)
    return [seeds[i] for i in range(num)]


def uniform(seed, shape=(), minval=0.0, maxval=1.0, dtype=tf.float32) -> tf.Tensor:
    """Stateless uniform sample in [minval, maxval)."""
    return tf.random.stateless_uniform(shape, seed=ensure_seed(seed), minval=minval,
                                       maxval=maxval, dtype=dtype)


def bernoulli(seed, probability, shape=()) -> tf.Tensor:
    """A boolean that is True with ``probability``."""
    return uniform(seed, shape) < tf.cast(probability, tf.float32)


def random_sign(seed, value) -> tf.Tensor:
    """``value`` or ``-value`` with equal chance (AutoAugment's magnitude negation)."""
    value = tf.convert_to_tensor(value, tf.float32)
    return tf.where(bernoulli(seed, 0.5), value, -value)


def beta(seed, alpha: float, shape=()) -> tf.Tensor:
    """Stateless Beta(alpha, alpha) via two gamma draws (Beta = Ga / (Ga + Gb))."""
    seed_a, seed_b = split_seed(seed, 2)
    gamma_a = tf.random.stateless_gamma(shape, seed=seed_a, alpha=alpha)
    gamma_b = tf.random.stateless_gamma(shape, seed=seed_b, alpha=alpha)
    total = gamma_a + gamma_b
    # Both gammas underflow to 0 for tiny alpha now and then; call that an even mix.
    return tf.where(total > 0, gamma_a / tf.maximum(total, 1e-30), 0.5)

"""Exponential moving average of all model weights, BN moving statistics included.

Evaluating or exporting the EMA copy swaps it into the model (`swapped_in`), so the network
code knows nothing about it; the shadow weights are checkpointed with the run.
"""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf


class WeightEma(tf.Module):
    def __init__(self, model: keras.Model, decay: float):
        super().__init__(name="weight_ema")
        self.decay = float(decay)
        self._weights = list(model.weights)  # all float: kernels, BN parameters and statistics
        self.shadow = [tf.Variable(tf.convert_to_tensor(w), trainable=False, name=f"ema_{i}",
                                   aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
                       for i, w in enumerate(self._weights)]

    def update(self, step) -> None:
        """shadow ← d·shadow + (1−d)·w, with d warmed up as min(decay, (1+t)/(10+t))."""
        t = tf.cast(step, tf.float32)
        decay = tf.minimum(self.decay, (1.0 + t) / (10.0 + t))
        for shadow, weight in zip(self.shadow, self._weights):
            shadow.assign(decay * shadow + (1.0 - decay) * tf.cast(weight, shadow.dtype))

    def reset(self) -> None:
        for shadow, weight in zip(self.shadow, self._weights):
            shadow.assign(tf.convert_to_tensor(weight))

    @contextlib.contextmanager
    def swapped_in(self):
        """Temporarily load the EMA weights into the model."""
        saved = [tf.identity(tf.convert_to_tensor(w)) for w in self._weights]
        for weight, shadow in zip(self._weights, self.shadow):
            weight.assign(shadow)
        try:
            yield
        finally:
            for weight, value in zip(self._weights, saved):
                weight.assign(value)

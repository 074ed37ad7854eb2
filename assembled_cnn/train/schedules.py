"""Learning-rate and DropBlock keep-prob schedules, pure functions of the global step.

Formulas of the original `functions/model_fns.py:learning_rate_with_decay` (peak LR is
`base_learning_rate` as given: the original's batch_denom equals the batch size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import tensorflow as tf


@dataclass(frozen=True)
class LrScheduleSpec:
    decay_type: str
    base_lr: float
    steps_per_epoch: float
    train_steps: int
    warmup_epochs: float = 0.0
    epochs_per_decay: float = 2.0
    decay_factor: float = 0.94
    end_lr: float = 1e-4
    boundary_epochs: tuple = (30, 60, 80, 90)
    decay_rates: tuple = (1, 0.1, 0.01, 0.001, 1e-4)

    @property
    def warmup_steps(self) -> int:
        return int(self.steps_per_epoch * self.warmup_epochs)


def _decayed(spec: LrScheduleSpec, step):
    """The schedule after warm-up (exponential/polynomial/cosine count from the warm-up's end)."""
    t = step - float(spec.warmup_steps)
    if spec.decay_type == "fixed":
        return tf.constant(spec.base_lr, tf.float32)
    if spec.decay_type == "exponential":
        period = max(1, int(spec.steps_per_epoch * spec.epochs_per_decay))
        return spec.base_lr * spec.decay_factor ** tf.floor(tf.maximum(t, 0.0) / period)
    if spec.decay_type == "polynomial":
        period = max(1, int(spec.steps_per_epoch * spec.epochs_per_decay))
        frac = tf.minimum(tf.maximum(t, 0.0), period) / period
        return (spec.base_lr - spec.end_lr) * (1.0 - frac) + spec.end_lr
    if spec.decay_type == "piecewise":  # the original does not offset these by the warm-up
        boundaries = [float(int(spec.steps_per_epoch * e)) for e in spec.boundary_epochs]
        values = [spec.base_lr * r for r in spec.decay_rates]
        index = tf.reduce_sum(tf.cast(step >= tf.constant(boundaries), tf.int32))
        return tf.gather(tf.constant(values, tf.float32), index)
    if spec.decay_type == "cosine":
        total = max(1, spec.train_steps - spec.warmup_steps)
        frac = tf.minimum(tf.maximum(t, 0.0), total) / total
        return 0.5 * spec.base_lr * (1.0 + tf.cos(math.pi * frac))
    raise ValueError(f"learning_rate_decay_type={spec.decay_type!r} is not one of fixed, exponential, "
                     "polynomial, piecewise, cosine")


def learning_rate(spec: LrScheduleSpec, step) -> tf.Tensor:
    """LR at `step`: linear warm-up `base_lr * step / warmup_steps`, then the decay."""
    step = tf.cast(step, tf.float32)
    lr = tf.cast(_decayed(spec, step), tf.float32)
    if spec.warmup_steps > 0:
        warm = spec.base_lr * step / float(spec.warmup_steps)
        lr = tf.where(step < float(spec.warmup_steps), warm, lr)
    return lr


class OriginalLrSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """`learning_rate(spec, step)` as a Keras schedule for the optimizer."""

    def __init__(self, spec: LrScheduleSpec):
        super().__init__()
        self.spec = spec

    def __call__(self, step):
        return learning_rate(self.spec, step)

    def get_config(self):
        return {"spec": self.spec.__dict__}


def dropblock_keep_prob(step, start: float, end: float, total_steps: int) -> tf.Tensor:
    """Linear decay of DropBlock's keep-prob from `start` to `end` over the whole run."""
    frac = tf.minimum(tf.cast(step, tf.float32), float(total_steps)) / float(max(1, total_steps))
    return start + (end - start) * frac

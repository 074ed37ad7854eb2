"""Losses of the classification task: soft-target CE (label smoothing and mixup live in the
targets), and knowledge distillation from teacher probabilities, as the original."""

from __future__ import annotations

import tensorflow as tf


def soft_cross_entropy(targets, logits) -> tf.Tensor:
    """Mean over the batch of −Σ targets·log softmax(logits)."""
    logits = tf.cast(logits, tf.float32)
    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(tf.cast(targets, tf.float32), logits))


def distillation_loss(teacher_probs, logits, temperature: float) -> tf.Tensor:
    """T² · CE(teacher_probs, softmax(logits / T)) — the original's KD term (weight 1, no α).

    `teacher_probs` is softmax(teacher_logits / T), mixed with the same weights as the images.
    """
    scaled = tf.cast(logits, tf.float32) / temperature
    return temperature ** 2 * soft_cross_entropy(teacher_probs, scaled)

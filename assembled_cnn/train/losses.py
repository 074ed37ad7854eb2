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

    `teacher_probs` is softmax(teacher_logits / T), mixed with the same weights as the images;
    no gradient flows into them. The T² factor keeps the gradient scale independent of T.
    """
    if isinstance(temperature, (int, float)) and temperature <= 0:
        raise ValueError(f"kd temperature must be > 0 (the original's --kd_temp), got {temperature}")
    logits = tf.cast(logits, tf.float32)
    targets = tf.stop_gradient(tf.cast(teacher_probs, tf.float32))
    if logits.shape.rank is not None and logits.shape.rank != 2:
        raise ValueError(f"student_logits must be [batch, classes], got shape {logits.shape}")
    if logits.shape[-1] is not None and targets.shape[-1] is not None and logits.shape[-1] != targets.shape[-1]:
        raise ValueError(
            f"student has {logits.shape[-1]} logits but the teacher gives {targets.shape[-1]} "
            "probabilities; extract teacher logits with --offset so the class counts match")
    temperature = tf.cast(temperature, tf.float32)
    return tf.square(temperature) * soft_cross_entropy(targets, logits / temperature)

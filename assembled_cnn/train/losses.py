"""Losses of the classification task: soft-target CE (label smoothing and mixup live in the
targets), the original's sigmoid BCE, sigmoid focal, the ArcFace margin of cosine-softmax heads,
and knowledge distillation from teacher probabilities, as the original."""

from __future__ import annotations

import math

import tensorflow as tf


def soft_cross_entropy(targets, logits) -> tf.Tensor:
    """Mean over the batch of −Σ targets·log softmax(logits)."""
    logits = tf.cast(logits, tf.float32)
    return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(tf.cast(targets, tf.float32), logits))


def distillation_loss(teacher_probs, logits, temperature: float) -> tf.Tensor:
    """T² · CE(teacher_probs, softmax(logits / T)) — the original's KD term (no α; the task multiplies it
    by --kd_weight, 1 by default as the original).

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


def _per_positive(total, targets) -> tf.Tensor:
    """The original's sigmoid normalisation: the summed loss over the number of positives."""
    return tf.math.divide_no_nan(total, tf.reduce_sum(targets))


def sigmoid_cross_entropy(targets, logits) -> tf.Tensor:
    """Σ BCE(targets, sigmoid(logits)) over batch and classes / Σ targets (`--cls_loss_type=sigmoid`)."""
    logits, targets = tf.cast(logits, tf.float32), tf.cast(targets, tf.float32)
    bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
    return _per_positive(tf.reduce_sum(bce), targets)


def focal_loss(targets, logits, gamma: float = 2.0, alpha: float = 0.25) -> tf.Tensor:
    """Sigmoid focal loss (Lin et al. 2017) / Σ targets (`--cls_loss_type=focal`).

    Per class: −y·α(1−p)^γ·log p − (1−y)(1−α)p^γ·log(1−p), p = sigmoid(logit); for 0/1 targets
    this is −α_t(1−p_t)^γ log p_t, and soft targets (label smoothing, mixup) weight both terms.
    """
    logits, targets = tf.cast(logits, tf.float32), tf.cast(targets, tf.float32)
    p = tf.sigmoid(logits)
    log_p, log_not_p = tf.math.log_sigmoid(logits), tf.math.log_sigmoid(-logits)
    positive = alpha * tf.pow(1.0 - p, gamma) * log_p
    negative = (1.0 - alpha) * tf.pow(p, gamma) * log_not_p
    return _per_positive(-tf.reduce_sum(targets * positive + (1.0 - targets) * negative), targets)


def arcface_logits(labels, logits, scale: float, margin: float) -> tf.Tensor:
    """ArcFace: the target logit s·cos θ becomes s·cos(θ + m); the others stay s·cos θ.

    `logits` are the scaled cosines of `CosineLogits`. Where θ + m would pass π the target
    logit falls back to s·(cos θ − m·sin m), which keeps it decreasing in θ (as ArcFace).
    """
    logits = tf.cast(logits, tf.float32)
    cosine = tf.clip_by_value(logits / scale, -1.0, 1.0)
    one_hot = tf.one_hot(tf.cast(tf.reshape(labels, [-1]), tf.int32), tf.shape(logits)[-1], dtype=tf.float32)
    sine = tf.sqrt(tf.clip_by_value(1.0 - tf.square(cosine), 1e-12, 1.0))
    with_margin = cosine * math.cos(margin) - sine * math.sin(margin)
    with_margin = tf.where(cosine > math.cos(math.pi - margin), with_margin, cosine - margin * math.sin(margin))
    return logits + one_hot * scale * (with_margin - cosine)


def supervised_loss(targets, logits, loss_type: str = "softmax", *, arc_scale: float = 0.0,
                    arc_margin: float = 0.0, focal_gamma: float = 2.0, focal_alpha: float = 0.25) -> tf.Tensor:
    """The supervised term of the total loss: softmax CE (with the ArcFace margin when
    `arc_scale` > 0), sigmoid BCE or focal, all on (possibly smoothed/mixed) target vectors."""
    if loss_type == "sigmoid":
        return sigmoid_cross_entropy(targets, logits)
    if loss_type == "focal":
        return focal_loss(targets, logits, focal_gamma, focal_alpha)
    if loss_type != "softmax":
        raise ValueError(f"cls_loss_type={loss_type!r}: expected softmax, sigmoid or focal")
    if arc_scale > 0:  # label smoothing keeps the argmax: the margin goes to the true class
        logits = arcface_logits(tf.argmax(targets, axis=-1), logits, arc_scale, arc_margin)
    return soft_cross_entropy(targets, logits)

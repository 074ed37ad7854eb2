"""The distillation loss of the original (reference §3.1 / §3.9).

``CE_kd = T² · CE(softmax(teacher_logits / T), softmax(student_logits / T))``, averaged
over the batch and added with weight 1 to the supervised loss (no α weighting). The T²
factor keeps the gradient scale independent of T: d/ds = T · (softmax(s/T) − p) / B.
Teacher probabilities may already be mixed (mixup / CutMix) by the input pipeline.
"""

from __future__ import annotations

import tensorflow as tf

from assembled_cnn.preprocessing.mixing import teacher_probabilities

__all__ = ["kd_loss", "teacher_probabilities"]


def _check_temperature(temperature) -> None:
    if isinstance(temperature, (int, float)) and temperature <= 0:
        raise ValueError(f"kd temperature must be > 0 (the original's --kd_temp), "
                         f"got {temperature}")


def kd_loss(student_logits, teacher_probs, temperature: float = 1.0) -> tf.Tensor:
    """T² · mean over the batch of −Σ_k p_k · log softmax(student_logits / T)_k (float32).

    student_logits: [B, K] (any float dtype; computed in float32 for mixed precision).
    teacher_probs: [B, K] probabilities, e.g. ``teacher_probabilities(logits, T)``; no
    gradient flows into them (they are targets).
    """
    _check_temperature(temperature)
    logits = tf.cast(student_logits, tf.float32)
    targets = tf.stop_gradient(tf.cast(teacher_probs, tf.float32))
    if logits.shape.rank is not None and logits.shape.rank != 2:
        raise ValueError(f"student_logits must be [batch, classes], got shape {logits.shape}")
    if (logits.shape[-1] is not None and targets.shape[-1] is not None
            and logits.shape[-1] != targets.shape[-1]):
        raise ValueError(
            f"student has {logits.shape[-1]} logits but the teacher gives {targets.shape[-1]} "
            "probabilities; extract teacher logits with --offset so the class counts match")
    temperature = tf.cast(temperature, tf.float32)
    log_probs = tf.nn.log_softmax(logits / temperature, axis=-1)
    per_example = -tf.reduce_sum(targets * log_probs, axis=-1)
    return tf.square(temperature) * tf.reduce_mean(per_example)

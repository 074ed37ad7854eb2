"""The distillation loss of the original (reference §3.1 / §3.9).

``CE_kd = T² · CE(softmax(teacher_logits / T), softmax(student_logits / T))``, averaged
over the batch and added with weight 1 to the supervised loss (no α weighting). The T²
factor keeps the gradient scale independent of T: d/ds = T · (softmax(s/T) − p) / B.
Teacher probabilities may already be mixed (mixup / CutMix) by the input pipeline.
"""

from __future__ import annotations

import tensorflow as tf

from assembled_cnn.preprocessing.mixing import teacher_probabilities
from assembled_cnn.train.losses import distillation_loss

__all__ = ["kd_loss", "teacher_probabilities"]


def kd_loss(student_logits, teacher_probs, temperature: float = 1.0) -> tf.Tensor:
    """T² · mean over the batch of −Σ_k p_k · log softmax(student_logits / T)_k (float32).

    The trainer's `distillation_loss` with the student first; student_logits [B, K] of any float
    dtype, teacher_probs [B, K] probabilities (targets: no gradient flows into them).
    """
    return distillation_loss(teacher_probs, student_logits, temperature)

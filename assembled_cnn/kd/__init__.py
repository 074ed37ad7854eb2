"""Knowledge distillation: teacher loading, offline logit extraction and the KD loss.

The extractor lives in ``assembled_cnn.kd.extract_logits`` (function of the same name);
it is not imported here so ``python -m assembled_cnn.kd.extract_logits`` runs cleanly and
the submodule name is not shadowed by the function.
"""

from assembled_cnn.kd.loss import kd_loss, teacher_probabilities
from assembled_cnn.kd.teacher import Teacher, TeacherError, load_teacher, parse_hparams

__all__ = ["Teacher", "TeacherError", "kd_loss", "load_teacher", "parse_hparams",
           "teacher_probabilities"]

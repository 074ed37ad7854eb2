"""What a training step needs besides the model and its optimizer, built and owned by the Task.

Regularisation (weight decay, L2-SP anchors), the EMA copy of the weights, an online teacher,
per-group LR multipliers, gradient clipping and DropBlock's keep-prob schedule. The runner
checkpoints `checkpoint_items()` and calls `begin_step`/`end_step` around each step in
cross-replica context; everything a replica computes is `ClassificationTask.train_step`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import keras
import tensorflow as tf

from assembled_cnn.nets import model_info
from assembled_cnn.train.ema import WeightEma
from assembled_cnn.train.regularizers import Regularization
from assembled_cnn.train.schedules import dropblock_keep_prob


@dataclasses.dataclass
class DropBlockSchedule:
    """Keep-prob decayed linearly from `start` to `end` over the run (the original's schedule)."""

    keep_prob: Any        # the model's KeepProbability variable
    start: float
    end: float
    total_steps: int

    def apply(self, step) -> None:
        self.keep_prob.assign(dropblock_keep_prob(step, self.start, self.end, self.total_steps))


@dataclasses.dataclass
class StepParts:
    regularization: Regularization
    ema: WeightEma | None = None
    teacher: Any = None                      # a kd.teacher.Teacher for online distillation
    multipliers: list[float] | None = None   # per trainable variable, from --lr_multipliers
    grad_clip_norm: float | None = None
    dropblock: DropBlockSchedule | None = None
    dropblock_seeds: list = dataclasses.field(default_factory=list)

    def checkpoint_items(self) -> dict:
        """State a resumed run needs to continue exactly (beside model and optimizer)."""
        items: dict = {"dropblock_seeds": self.dropblock_seeds}
        if self.ema is not None:
            items["ema"] = self.ema
        if self.regularization.anchors is not None:
            items["l2sp_anchors"] = self.regularization.anchors
        return items

    def begin_step(self, step) -> None:
        if self.dropblock is not None:
            self.dropblock.apply(step)

    def end_step(self, step) -> None:
        if self.ema is not None:
            self.ema.update(step)

    def adjust_gradients(self, grads: list) -> list:
        """Per-group LR multipliers, then clipping by the global norm."""
        if self.multipliers:
            grads = [g * m for g, m in zip(grads, self.multipliers)]
        if self.grad_clip_norm:
            grads, _ = tf.clip_by_global_norm(grads, self.grad_clip_norm)
        return grads

    def evaluation_weights(self):
        """The weights evaluation and export use: the EMA copy swapped in when the run keeps one."""
        return self.ema.swapped_in() if self.ema is not None else contextlib.nullcontext()

    def restart_from_weights(self) -> None:
        """After a warm start: L2-SP anchors and the EMA copy start from the loaded weights."""
        self.regularization.reset_anchors()
        if self.ema is not None:
            self.ema.reset()


def dropblock_schedule(model: keras.Model, keep_probs: list, total_steps: int) -> DropBlockSchedule | None:
    info = model_info(model)
    if not info.config.use_dropblock:
        return None
    return DropBlockSchedule(info.keep_prob, float(keep_probs[0]), float(keep_probs[1]), total_steps)

"""Weight decay on kernels only, and L2-SP (Li et al. 2018: decay toward the starting point).

Decay terms are added to the loss, as the original (`wd * sum(l2_loss(w))`, i.e. wd/2·‖w‖²),
so that they interact with momentum the same way; BN parameters and biases are excluded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import tensorflow as tf

from assembled_cnn.train.layer_groups import variable_groups

KERNEL_NAMES = ("kernel", "depthwise_kernel")


def is_decayed(var) -> bool:
    """Convolution and dense kernels; never BN gamma/beta, moving statistics or biases."""
    return var.trainable and var.name in KERNEL_NAMES


def l2_sum(variables) -> tf.Tensor:
    """Σ ½‖w‖² in float32 (tf.nn.l2_loss)."""
    terms = [tf.nn.l2_loss(tf.cast(v, tf.float32)) for v in variables]
    return tf.add_n(terms) if terms else tf.constant(0.0)


@dataclass
class L2SPConfig:
    """alpha: pull toward the pretrained weights (per group overrides in group_alpha);
    beta: plain L2 on the groups that were re-initialised (no meaningful starting point)."""

    alpha: float = 0.0
    beta: float = 0.0
    group_alpha: dict = field(default_factory=dict)
    new_groups: tuple = ()


class L2SPAnchors(tf.Module):
    """Frozen copies of the starting weights (checkpointed, so resuming keeps the anchors)."""

    def __init__(self, variables):
        super().__init__(name="l2sp_anchors")
        self.anchors = [tf.Variable(tf.cast(v, tf.float32), trainable=False,
                                    name=f"anchor_{i}") for i, v in enumerate(variables)]

    def refresh(self, variables) -> None:
        for anchor, var in zip(self.anchors, variables):
            anchor.assign(tf.cast(var, tf.float32))


class Regularization:
    """The decay terms of one model: `loss()` is added to the data loss every step."""

    def __init__(self, model: keras.Model, weight_decay: float, l2sp: L2SPConfig | None = None):
        self.weight_decay = float(weight_decay)
        self.decayed = [v for v in model.trainable_weights if is_decayed(v)]
        self.l2sp = l2sp if (l2sp and (l2sp.alpha or l2sp.beta or l2sp.group_alpha)) else None
        self.anchored, self.new, self.anchors = [], [], None
        if self.l2sp:
            self._split_groups(model)

    def _split_groups(self, model):
        for group, variables in variable_groups(model).items():
            kernels = [v for v in variables if is_decayed(v)]
            if group in self.l2sp.new_groups:
                self.new += kernels
            else:
                strength = float(self.l2sp.group_alpha.get(group, self.l2sp.alpha))
                self.anchored += [(v, strength) for v in kernels if strength > 0]
        self.anchors = L2SPAnchors([v for v, _ in self.anchored])

    def reset_anchors(self) -> None:
        """Take the current (warm-started) weights as the L2-SP starting point."""
        if self.anchors is not None:
            self.anchors.refresh([v for v, _ in self.anchored])

    def loss(self) -> tf.Tensor:
        total = self.weight_decay * l2_sum(self.decayed) if self.weight_decay else tf.constant(0.0)
        if self.l2sp:
            for (var, strength), anchor in zip(self.anchored, self.anchors.anchors):
                total += strength * tf.nn.l2_loss(tf.cast(var, tf.float32) - anchor)
            if self.l2sp.beta and self.new:
                total += self.l2sp.beta * l2_sum(self.new)
        return total


def gradient_multipliers(model: keras.Model, multipliers: dict) -> list[float]:
    """Per trainable variable, the LR multiplier of its layer group (1.0 by default).

    Scaling a gradient by m is the same as scaling its LR by m for SGD with momentum.
    """
    unknown = set(multipliers) - set(variable_groups(model))
    if unknown:
        raise ValueError(f"--lr_multipliers names unknown layer groups {sorted(unknown)}; "
                         f"groups are {list(variable_groups(model))}")
    by_id = {}
    for group, variables in variable_groups(model).items():
        for var in variables:
            by_id[id(var)] = float(multipliers.get(group, 1.0))
    return [by_id.get(id(v), 1.0) for v in model.trainable_variables]

"""The toolkit's training recipe as a PyTorch loop around our Keras networks (torch backend).

Why this exists: the GPU machine lent to this project has PyTorch and JAX but no TensorFlow, and a
TensorFlow wheel with its CUDA libraries (GBs) cannot be carried to it (64 MiB per call). The
networks themselves are the toolkit's (`assembled_cnn.nets`, written with keras.ops); what is
re-expressed here, in a few lines of torch each, is the recipe of `assembled_cnn.train`:
SGD + momentum 0.9 in Keras's form (v = μv − lr·g), linear warm-up then cosine LR, L2 weight decay Σ ½‖w‖² on conv/dense kernels
only (never BN or biases), label smoothing, in-batch mixup (`mixup2`) and DropBlock's linear
keep-probability schedule. Everything runs on one CUDA device in float32 (TF32 matmuls).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

DECAYED_NAMES = ("kernel", "depthwise_kernel")  # assembled_cnn.train.regularizers.KERNEL_NAMES


@dataclass
class Recipe:
    epochs: float
    batch_size: int
    steps_per_epoch: int
    base_lr: float
    weight_decay: float = 1e-4
    warmup_epochs: float = 0.5
    momentum: float = 0.9
    label_smoothing: float = 0.0
    mixup_alpha: float = 0.0           # > 0: in-batch mixup2
    dropblock_kp: tuple[float, float] | None = None   # (start, end), linear over the run

    @property
    def total_steps(self) -> int:
        return max(1, int(round(self.epochs * self.steps_per_epoch)))


def learning_rate(recipe: Recipe, step: int) -> float:
    """Linear warm-up to base_lr, then cosine to 0 (`assembled_cnn.train.schedules`)."""
    warmup = int(recipe.steps_per_epoch * recipe.warmup_epochs)
    if warmup > 0 and step < warmup:
        return recipe.base_lr * step / warmup
    total = max(1, recipe.total_steps - warmup)
    frac = min(max(step - warmup, 0), total) / total
    return 0.5 * recipe.base_lr * (1.0 + math.cos(math.pi * frac))


def keep_prob(recipe: Recipe, step: int) -> float:
    start, end = recipe.dropblock_kp or (1.0, 1.0)
    return start + (end - start) * min(step, recipe.total_steps) / recipe.total_steps


def soft_targets(labels: torch.Tensor, classes: int, smoothing: float) -> torch.Tensor:
    onehot = F.one_hot(labels.long(), classes).float()
    return onehot * (1.0 - smoothing) + smoothing / classes


def mixup2(images: torch.Tensor, targets: torch.Tensor, alpha: float, rng: np.random.Generator):
    """[λ1·x1 + (1−λ1)·x2 ; λ2·x1 + (1−λ2)·rev(x2)] with λ ~ Beta(α, α) per sample (mixing.py)."""
    half = images.shape[0] // 2
    x1, x2, t1, t2 = images[:half], images[half:2 * half], targets[:half], targets[half:2 * half]
    lam = torch.as_tensor(rng.beta(alpha, alpha, size=(2, half)), dtype=images.dtype, device=images.device)
    l1, l2 = lam[0].view(-1, 1, 1, 1), lam[1].view(-1, 1, 1, 1)
    mixed = torch.cat([l1 * x1 + (1 - l1) * x2, l2 * x1 + (1 - l2) * x2.flip(0)])
    m1, m2 = lam[0].view(-1, 1), lam[1].view(-1, 1)
    return mixed, torch.cat([m1 * t1 + (1 - m1) * t2, m2 * t1 + (1 - m2) * t2.flip(0)])


class Trainer:
    """One model, SGD with momentum (Keras's form) and the recipe's per-step schedule."""

    def __init__(self, model, recipe: Recipe, classes: int, seed: int):
        self.model, self.recipe, self.classes = model, recipe, classes
        self.params = [v.value for v in model.trainable_weights]
        self.decayed = [v.value for v in model.trainable_weights if v.name in DECAYED_NAMES]
        self.velocity = [torch.zeros_like(p) for p in self.params]
        self.rng = np.random.default_rng(seed)
        self.step = 0

    def train_step(self, images: torch.Tensor, labels: torch.Tensor) -> float:
        from assembled_cnn.nets import set_dropblock_keep_prob

        recipe = self.recipe
        if recipe.dropblock_kp:
            set_dropblock_keep_prob(self.model, keep_prob(recipe, self.step))
        targets = soft_targets(labels, self.classes, recipe.label_smoothing)
        if recipe.mixup_alpha > 0:
            images, targets = mixup2(images, targets, recipe.mixup_alpha, self.rng)
        logits = self.model(images, training=True)
        loss = -(targets * F.log_softmax(logits.float(), dim=-1)).sum(-1).mean()
        if recipe.weight_decay:
            loss = loss + recipe.weight_decay * sum(0.5 * (w.float() ** 2).sum() for w in self.decayed)
        grads = torch.autograd.grad(loss, self.params)
        lr = learning_rate(recipe, self.step)
        with torch.no_grad():   # keras.optimizers.SGD, as the toolkit's runner: v = μv − lr·g; w += v
            for param, velocity, grad in zip(self.params, self.velocity, grads):
                velocity.mul_(recipe.momentum).sub_(lr * grad)
                param.add_(velocity)
        self.step += 1
        return loss.detach()

    def finish(self) -> None:
        """The Keras variables are the trained ones already (eager)."""

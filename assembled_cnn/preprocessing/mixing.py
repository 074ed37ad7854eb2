"""Batch-level mixing: mixup (the original's two types), CutMix, label smoothing, KD targets.

* ``mixup1`` (the released recipe): the pipeline reads a 2× batch; its halves x1, x2 are
  mixed as λ·x1 + (1−λ)·x2 with λ ~ Beta(α, α) drawn per sample, giving B samples.
* ``mixup2``: one batch of B, halves x1, x2: [λ1·x1 + (1−λ1)·x2 ; λ2·x1 + (1−λ2)·rev(x2)].
  The original mixed the *one-hot label* y1 into the teacher target of the second half
  (BUG, reference §3.4); here the teacher probabilities are mixed like everything else.
* ``cutmix``: a box covering ≈ (1−λ) of each image is pasted from the reversed batch; the
  label weight is 1 − (pasted area / image area) after the box is clipped to the image.

Teacher logits become probabilities softmax(logits / T) *before* mixing (the original's
KD target), so the teacher target is mixed with exactly the label weights.  Every
function returns the weight λ of the first partner per output sample.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from assembled_cnn.preprocessing import seeds as seeds_lib

MIXING_MODES = ("none", "mixup1", "mixup2", "cutmix")


@dataclasses.dataclass(frozen=True)
class MixingConfig:
    mode: str = "none"
    alpha: float = 0.2  # Beta(α, α); the recipe's mixup α; CutMix commonly uses 1.0
    label_smoothing: float = 0.0
    kd_temperature: float = 1.0

    def __post_init__(self):
        if self.mode not in MIXING_MODES:
            raise ValueError(f"mixing mode={self.mode!r}; choose one of {MIXING_MODES} "
                             "(the original's --mixup_type 1 / 2 are mixup1 / mixup2)")
        if self.mode != "none" and self.alpha <= 0:
            raise ValueError(f"mixing alpha={self.alpha} must be > 0 for mode {self.mode!r}")

    @property
    def batch_multiplier(self) -> int:
        """How many decoded images one output sample consumes (2 for mixup type 1)."""
        return 2 if self.mode == "mixup1" else 1


@dataclasses.dataclass
class MixedBatch:
    images: tf.Tensor
    targets: tf.Tensor
    teacher_probs: tf.Tensor | None
    lam: tf.Tensor


def smooth_labels(targets, smoothing: float) -> tf.Tensor:
    """targets · (1 − ε) + ε / K, the convention of tf.losses / the original."""
    targets = tf.convert_to_tensor(targets, tf.float32)
    if smoothing == 0:
        return targets
    num_classes = tf.cast(tf.shape(targets)[-1], tf.float32)
    return targets * (1.0 - smoothing) + smoothing / num_classes


def teacher_probabilities(logits, temperature: float = 1.0) -> tf.Tensor:
    return tf.nn.softmax(tf.cast(logits, tf.float32) / temperature, axis=-1)


def _weighted(first, second, lam) -> tf.Tensor:
    """λ·first + (1−λ)·second with a per-sample λ broadcast over the other axes."""
    first = tf.cast(first, tf.float32)
    lam = tf.reshape(lam, [-1] + [1] * (first.shape.rank - 1))
    return lam * first + (1.0 - lam) * tf.cast(second, tf.float32)


def _halves(tensor):
    if tensor is None:
        return None, None
    return tf.split(tensor, 2, axis=0)


def _check_even(images, mode: str) -> None:
    batch = images.shape[0]
    if batch is not None and batch % 2:
        raise ValueError(f"{mode} needs an even batch, got {batch}; "
                         "use a global batch size divisible by 2 × replicas")


def mixup_double_batch(images, targets, teacher_probs=None, alpha: float = 0.2,
                       seed=None) -> MixedBatch:
    """Mixup type 1: a 2B batch → B samples λ·x1 + (1−λ)·x2, λ ~ Beta(α, α) per sample."""
    _check_even(images, "mixup type 1")
    x1, x2 = _halves(images)
    y1, y2 = _halves(targets)
    lam = seeds_lib.beta(seed, alpha, tf.shape(x1)[:1])
    teacher = None
    if teacher_probs is not None:
        t1, t2 = _halves(teacher_probs)
        teacher = _weighted(t1, t2, lam)
    return MixedBatch(_weighted(x1, x2, lam), _weighted(y1, y2, lam), teacher, lam)


def mixup_in_batch(images, targets, teacher_probs=None, alpha: float = 0.2,
                   seed=None) -> MixedBatch:
    """Mixup type 2: B → B as [λ1·x1 + (1−λ1)·x2 ; λ2·x1 + (1−λ2)·reverse(x2)]."""
    _check_even(images, "mixup type 2")
    seed_first, seed_second = seeds_lib.split_seed(seed, 2)
    x1, x2 = _halves(images)
    y1, y2 = _halves(targets)
    half = tf.shape(x1)[:1]
    lam1, lam2 = seeds_lib.beta(seed_first, alpha, half), seeds_lib.beta(seed_second, alpha, half)

    def mix(first, second):
        return tf.concat([_weighted(first, second, lam1),
                          _weighted(first, tf.reverse(second, [0]), lam2)], axis=0)

    teacher = None
    if teacher_probs is not None:
        teacher = mix(*_halves(teacher_probs))
    return MixedBatch(mix(x1, x2), mix(y1, y2), teacher, tf.concat([lam1, lam2], axis=0))


def cutmix_boxes(lam, height, width, seed) -> tf.Tensor:
    """Per-sample boxes [B, 4] = (y0, x0, y1, x1), side ratio sqrt(1 − λ), clipped to the image."""
    seed_y, seed_x = seeds_lib.split_seed(seed, 2)
    ratio = tf.sqrt(1.0 - lam)
    cut_h = tf.cast(tf.cast(height, tf.float32) * ratio, tf.int32)
    cut_w = tf.cast(tf.cast(width, tf.float32) * ratio, tf.int32)
    center_y = seeds_lib.uniform(seed_y, tf.shape(lam), 0, height, tf.int32)
    center_x = seeds_lib.uniform(seed_x, tf.shape(lam), 0, width, tf.int32)
    y0 = tf.clip_by_value(center_y - cut_h // 2, 0, height)
    y1 = tf.clip_by_value(center_y + cut_h // 2, 0, height)
    x0 = tf.clip_by_value(center_x - cut_w // 2, 0, width)
    x1 = tf.clip_by_value(center_x + cut_w // 2, 0, width)
    return tf.stack([y0, x0, y1, x1], axis=1)


def cutmix(images, targets, teacher_probs=None, alpha: float = 1.0, seed=None) -> MixedBatch:
    """CutMix with the reversed batch; λ is corrected to the exact kept-area fraction."""
    seed_lam, seed_box = seeds_lib.split_seed(seed, 2)
    images = tf.cast(images, tf.float32)
    shape = tf.shape(images)
    lam = seeds_lib.beta(seed_lam, alpha, shape[:1])
    boxes = cutmix_boxes(lam, shape[1], shape[2], seed_box)
    rows = tf.range(shape[1])[None, :, None]
    cols = tf.range(shape[2])[None, None, :]
    inside = ((rows >= boxes[:, 0, None, None]) & (rows < boxes[:, 2, None, None])
              & (cols >= boxes[:, 1, None, None]) & (cols < boxes[:, 3, None, None]))
    pasted_fraction = tf.reduce_mean(tf.cast(inside, tf.float32), axis=[1, 2])
    lam = 1.0 - pasted_fraction
    mixed = tf.where(inside[..., None], tf.reverse(images, [0]), images)
    teacher = None
    if teacher_probs is not None:
        teacher = _weighted(teacher_probs, tf.reverse(teacher_probs, [0]), lam)
    return MixedBatch(mixed, _weighted(targets, tf.reverse(targets, [0]), lam), teacher, lam)


def mix_batch(images, labels, num_classes: int, config: MixingConfig = MixingConfig(),
              teacher_logits=None, seed=None) -> MixedBatch:
    """Integer labels (and teacher logits) → mixed images, soft targets, teacher probs, λ.

    Label smoothing is applied to the one-hot targets (it commutes with mixing); the
    teacher probabilities are softmax(logits / kd_temperature) mixed with the same λ.
    """
    targets = smooth_labels(tf.one_hot(tf.cast(labels, tf.int32), num_classes),
                            config.label_smoothing)
    teacher = None
    if teacher_logits is not None:
        teacher = teacher_probabilities(teacher_logits, config.kd_temperature)
    images = tf.cast(images, tf.float32)
    if config.mode == "mixup1":
        return mixup_double_batch(images, targets, teacher, config.alpha, seed)
    if config.mode == "mixup2":
        return mixup_in_batch(images, targets, teacher, config.alpha, seed)
    if config.mode == "cutmix":
        return cutmix(images, targets, teacher, config.alpha, seed)
    return MixedBatch(images, targets, teacher, tf.ones(tf.shape(images)[:1], tf.float32))

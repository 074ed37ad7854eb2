"""Schedules, losses, regularisers and metrics against hand computation."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from assembled_cnn.nets import build_model
from assembled_cnn.train import losses, metrics
from assembled_cnn.train.regularizers import L2SPConfig, Regularization, gradient_multipliers, is_decayed
from assembled_cnn.train.schedules import LrScheduleSpec, dropblock_keep_prob, learning_rate


def lr(spec, step):
    return float(learning_rate(spec, step))


def test_cosine_with_warmup_at_chosen_steps():
    spec = LrScheduleSpec("cosine", 0.4, steps_per_epoch=100, train_steps=1000, warmup_epochs=2)
    assert lr(spec, 0) == 0.0
    assert lr(spec, 100) == pytest.approx(0.2)
    assert lr(spec, 200) == pytest.approx(0.4)
    assert lr(spec, 600) == pytest.approx(0.5 * 0.4 * (1 + math.cos(math.pi * 400 / 800)))
    assert lr(spec, 1000) == pytest.approx(0.0, abs=1e-7)


def test_exponential_polynomial_piecewise_fixed():
    exp = LrScheduleSpec("exponential", 0.1, 10, 1000, warmup_epochs=1, epochs_per_decay=2, decay_factor=0.5)
    assert lr(exp, 29) == pytest.approx(0.1)  # (29-10)//20 = 0
    assert lr(exp, 30) == pytest.approx(0.05)
    assert lr(exp, 75) == pytest.approx(0.1 * 0.5 ** 3)
    poly = LrScheduleSpec("polynomial", 0.1, 10, 1000, epochs_per_decay=4, end_lr=0.01)
    assert lr(poly, 20) == pytest.approx(0.1 - 0.09 * 0.5)
    assert lr(poly, 400) == pytest.approx(0.01)
    piece = LrScheduleSpec("piecewise", 0.4, 10, 1000, warmup_epochs=1, boundary_epochs=(3, 6),
                           decay_rates=(1, 0.1, 0.01))
    assert [lr(piece, s) for s in (5, 29, 30, 59, 60)] == pytest.approx([0.2, 0.4, 0.04, 0.04, 0.004])
    assert lr(LrScheduleSpec("fixed", 0.3, 10, 100), 77) == pytest.approx(0.3)


def test_dropblock_keep_prob_is_linear_over_the_run():
    assert float(dropblock_keep_prob(0, 0.9, 0.7, 100)) == pytest.approx(0.9)
    assert float(dropblock_keep_prob(50, 0.9, 0.7, 100)) == pytest.approx(0.8)
    assert float(dropblock_keep_prob(150, 0.9, 0.7, 100)) == pytest.approx(0.7)


def test_label_smoothing_and_mixup_cross_entropy():
    logits = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3]], np.float32)
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    smoothed = np.array([[1, 0, 0], [0, 0, 1]], np.float32) * 0.9 + 0.1 / 3
    expected = -(smoothed * log_p).sum(1).mean()
    assert float(losses.soft_cross_entropy(smoothed, logits)) == pytest.approx(expected, rel=1e-6)
    lam = 0.3  # mixup: the CE of mixed targets is the λ-mix of the two CEs
    mixed = lam * np.eye(3)[[0, 2]] + (1 - lam) * np.eye(3)[[1, 1]]
    ce_a = -log_p[[0, 1], [0, 2]]
    ce_b = -log_p[[0, 1], [1, 1]]
    assert float(losses.soft_cross_entropy(mixed, logits)) == pytest.approx((lam * ce_a + (1 - lam) * ce_b).mean(),
                                                                           rel=1e-6)


def test_distillation_loss_at_temperature_two():
    student = np.array([[1.0, 2.0, 0.0]], np.float32)
    teacher_logits = np.array([[0.5, 1.5, -0.5]], np.float32)
    t = 2.0
    p = np.exp(teacher_logits / t) / np.exp(teacher_logits / t).sum()
    log_q = student / t - np.log(np.exp(student / t).sum())
    expected = t * t * -(p * log_q).sum()
    assert float(losses.distillation_loss(p, student, t)) == pytest.approx(expected, rel=1e-6)


def test_weight_decay_covers_kernels_only():
    model = build_model("se_resnet50", num_filters=8, num_classes=3, input_size=32)
    reg = Regularization(model, weight_decay=1e-3)
    names = {v.path.split("/")[-1] for v in reg.decayed}
    assert names == {"kernel"}
    assert not any("bn" in v.path for v in reg.decayed)
    assert "logits/bias" in {v.path for v in model.trainable_weights} and not any(v.path == "logits/bias"
                                                                                  for v in reg.decayed)
    expected = 1e-3 * sum(0.5 * float(np.sum(v.numpy() ** 2)) for v in model.trainable_weights if is_decayed(v))
    assert float(reg.loss()) == pytest.approx(expected, rel=1e-5)


def test_l2sp_gradient_equals_hand_computation():
    model = build_model("resnet18", num_filters=8, num_classes=3, input_size=32)
    reg = Regularization(model, weight_decay=0.0,
                         l2sp=L2SPConfig(alpha=0.1, beta=0.01, group_alpha={"stage4": 0.5}, new_groups=("head",)))
    start = {v.path: v.numpy().copy() for v in model.trainable_weights}
    rng = np.random.default_rng(0)
    for v in model.trainable_weights:
        v.assign(v.numpy() + rng.normal(0, 0.05, v.shape).astype("float32"))
    with tf.GradientTape() as tape:
        loss = reg.loss()
    grads = dict(zip([v.path for v in model.trainable_weights], tape.gradient(loss, model.trainable_weights)))
    stem, stage4, head = "stem_conv/kernel", "s4_b1_conv3/kernel", "logits/kernel"
    w = {p: v.numpy() for p, v in ((v.path, v) for v in model.trainable_weights)}
    np.testing.assert_allclose(grads[stem].numpy(), 0.1 * (w[stem] - start[stem]), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grads[stage4].numpy(), 0.5 * (w[stage4] - start[stage4]), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(grads[head].numpy(), 0.01 * w[head], rtol=1e-5, atol=1e-7)
    assert grads["stem_conv_bn/gamma"] is None


def test_per_group_learning_rates_scale_one_sgd_step():
    model = build_model("resnet18", num_filters=8, num_classes=3, input_size=32)
    multipliers = gradient_multipliers(model, {"stem": 0.0, "head": 10.0})
    before = [v.numpy().copy() for v in model.trainable_variables]
    grads = [tf.ones_like(v) for v in model.trainable_variables]
    optimizer = keras.optimizers.SGD(0.01)
    optimizer.apply_gradients(zip([g * m for g, m in zip(grads, multipliers)], model.trainable_variables))
    deltas = {v.path: float(np.abs(v.numpy() - b).max()) for v, b in zip(model.trainable_variables, before)}
    assert deltas["stem_conv/kernel"] == 0.0
    assert deltas["logits/kernel"] == pytest.approx(0.1)
    assert deltas["s2_b0_conv2/kernel"] == pytest.approx(0.01)
    with pytest.raises(ValueError, match="unknown layer groups"):
        gradient_multipliers(model, {"backbone": 0.1})


def test_metrics_against_numpy():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(50, 7)).astype("float32") * 3
    labels = rng.integers(0, 7, 50)
    stats = metrics.batch_statistics(labels, logits, 7)
    total = metrics.accumulate(metrics.accumulate(None, {k: v.numpy() for k, v in stats.items()}),
                               {k: np.zeros_like(v.numpy()) for k, v in stats.items()})
    out = metrics.summarize(total)
    pred = logits.argmax(1)
    assert out["top1"] == pytest.approx(np.mean(pred == labels))
    top5 = np.argsort(-logits, 1)[:, :5]
    assert out["top5"] == pytest.approx(np.mean([l in t for l, t in zip(labels, top5)]))
    present = np.unique(labels)
    assert out["mean_per_class"] == pytest.approx(np.mean([np.mean(pred[labels == c] == c) for c in present]))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    conf = probs.max(1)
    ece = 0.0
    for b in range(10):
        mask = (conf > b / 10) & (conf <= (b + 1) / 10)
        if mask.any():
            ece += mask.mean() * abs(np.mean(pred[mask] == labels[mask]) - conf[mask].mean())
    assert out["ece"] == pytest.approx(ece, abs=1e-6)
    assert out["log_odds"] == pytest.approx(math.log(out["top1"] / (1 - out["top1"])))

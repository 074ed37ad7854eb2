"""Sigmoid / focal / ArcFace: values and gradients against hand computation, heads and flags."""

import math

import numpy as np
import pytest
import tensorflow as tf
from absl import flags

from assembled_cnn.config import ConfigError
from assembled_cnn.flags import config_from_flags, define_flags
from assembled_cnn.nets.layers import CosineLogits
from assembled_cnn.train import losses
from assembled_cnn.train.task import ClassificationTask

RNG = np.random.default_rng(0)
LOGITS = RNG.normal(0, 2, (6, 5)).astype(np.float32)
SOFT = np.full((6, 5), 0.02, np.float32)  # label-smoothed targets
SOFT[np.arange(6), RNG.integers(0, 5, 6)] = 0.92


def value_and_grad(fn, logits):
    z = tf.constant(logits)
    with tf.GradientTape() as tape:
        tape.watch(z)
        loss = fn(z)
    return float(loss), tape.gradient(loss, z).numpy()


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z.astype(np.float64)))


def test_sigmoid_cross_entropy_is_bce_over_positives():
    p, y = sigmoid(LOGITS), SOFT.astype(np.float64)
    want = -(y * np.log(p) + (1 - y) * np.log(1 - p)).sum() / y.sum()
    loss, grad = value_and_grad(lambda z: losses.sigmoid_cross_entropy(SOFT, z), LOGITS)
    assert loss == pytest.approx(want, rel=1e-5)
    np.testing.assert_allclose(grad, (p - y) / y.sum(), rtol=1e-4, atol=1e-7)


def test_focal_loss_and_gradient_by_hand():
    gamma, alpha = 2.0, 0.25
    p, y = sigmoid(LOGITS), SOFT.astype(np.float64)
    pos, neg = -alpha * (1 - p) ** gamma * np.log(p), -(1 - alpha) * p ** gamma * np.log(1 - p)
    want = (y * pos + (1 - y) * neg).sum() / y.sum()
    d_pos = alpha * (1 - p) ** gamma * (gamma * p * np.log(p) - (1 - p))
    d_neg = (1 - alpha) * p ** gamma * (p - gamma * (1 - p) * np.log(1 - p))
    loss, grad = value_and_grad(lambda z: losses.focal_loss(SOFT, z, gamma, alpha), LOGITS)
    assert loss == pytest.approx(want, rel=1e-5)
    np.testing.assert_allclose(grad, (y * d_pos + (1 - y) * d_neg) / y.sum(), rtol=1e-4, atol=1e-7)
    # gamma = 0, alpha = 0.5 is half the BCE
    half = losses.focal_loss(SOFT, LOGITS, 0.0, 0.5)
    assert float(half) == pytest.approx(0.5 * float(losses.sigmoid_cross_entropy(SOFT, LOGITS)), rel=1e-5)


def test_arcface_margin_on_the_target_class_only():
    s, m = 16.0, 0.3
    cosine = np.clip(RNG.normal(0, 0.5, (6, 5)), -0.99, 0.99).astype(np.float32)
    cosine[0, 2] = -0.999  # theta + m > pi: the linear fall-back
    labels = np.array([2, 1, 0, 4, 3, 2])
    got = losses.arcface_logits(labels, s * cosine, s, m).numpy()
    want = s * cosine.astype(np.float64)
    for i, c in enumerate(labels):
        theta = math.acos(cosine[i, c])
        want[i, c] = s * (math.cos(theta + m) if theta + m < math.pi else cosine[i, c] - m * math.sin(m))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(losses.arcface_logits(labels, s * cosine, s, 0.0).numpy(), s * cosine, rtol=1e-6)
    # d/dcos of s*cos(acos(c) + m) = s*(cos m + c sin m / sqrt(1 - c^2))
    _, grad = value_and_grad(lambda z: tf.reduce_sum(losses.arcface_logits(labels, z, s, m)), s * cosine)
    c = cosine[1, 1].astype(np.float64)
    assert grad[1, 1] == pytest.approx(math.cos(m) + c * math.sin(m) / math.sqrt(1 - c * c), rel=1e-4)
    assert grad[1, 0] == pytest.approx(1.0)


def test_arcface_loss_is_softmax_ce_of_the_margin_logits_and_m0_is_plain_softmax():
    s = 10.0
    logits = np.tanh(LOGITS) * s
    plain = losses.supervised_loss(SOFT, logits, "softmax")
    at_zero = losses.supervised_loss(SOFT, logits, "softmax", arc_scale=s, arc_margin=0.0)
    assert float(at_zero) == pytest.approx(float(plain), rel=1e-6)
    with_margin = losses.supervised_loss(SOFT, logits, "softmax", arc_scale=s, arc_margin=0.3)
    assert float(with_margin) > float(plain)


def test_cosine_logits_are_scaled_cosines():
    x = RNG.normal(size=(4, 7)).astype(np.float32)
    layer = CosineLogits(3, scale=12.0)
    out = layer(x).numpy()
    w = layer.kernel.numpy()
    want = 12.0 * (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (w / np.linalg.norm(w, axis=0, keepdims=True))
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-5)
    assert CosineLogits.from_config(layer.get_config()).scale == 12.0


def parse(argv):
    fv = flags.FlagValues()
    define_flags(fv)
    fv(["prog", *argv])
    return fv


def test_sigmoid_flags_build_a_model_with_the_original_bias_init(toy_data):
    config = config_from_flags(parse(["--dataset_name=toy", f"--dd={toy_data}", "--cls_loss_type=sigmoid",
                                      "--rs=18", "--num_filters=8", "--md=/tmp/unused"]))
    assert config.train.cls_loss_type == "sigmoid"
    model = ClassificationTask(config).build_model()
    bias = model.get_layer("logits").bias.numpy()
    np.testing.assert_allclose(bias, -math.log(4 - 1), rtol=1e-6)


def test_arcface_flags_build_a_cosine_head(toy_data):
    config = config_from_flags(parse(["--dataset_name=toy", f"--dd={toy_data}", "--logit_type=arcface",
                                      "--arc_s=20", "--arc_m=0.3", "--pool_type=gem", "--embedding_size=16",
                                      "--rs=18", "--num_filters=8", "--md=/tmp/unused", "--recall_at_k=1,2"]))
    assert (config.model.logit_type, config.model.cosine_scale, config.train.arc_margin) == ("cosine", 20.0, 0.3)
    assert config.run.recall_at_k == [1, 2]
    model = ClassificationTask(config).build_model()
    logits = model(np.zeros((2, 32, 32, 3), np.float32) + 0.5)
    assert float(tf.reduce_max(tf.abs(logits))) <= 20.0 + 1e-4
    assert isinstance(model.get_layer("logits"), CosineLogits)


@pytest.mark.parametrize("argv,message", [
    (["--cls_loss_type=hinge"], "cls_loss_type='hinge'"),
    (["--logit_type=arcface", "--cls_loss_type=sigmoid"], "softmax loss"),
    (["--logit_type=arcface", "--mixup_type=1"], "one label per image"),
    (["--logit_type=cosface"], "arcface"),
    (["--recall_at_k=1,top5"], "integers"),
    (["--recall_at_k=0"], "recall_at_k"),
    (["--eval_similarity=dot"], "eval_similarity"),
])
def test_meaningless_head_combinations_are_one_line_errors(toy_data, argv, message):
    with pytest.raises(ConfigError, match=message) as error:
        config_from_flags(parse(["--dataset_name=toy", f"--dd={toy_data}", "--md=/tmp/unused", *argv]))
    assert "\n" not in str(error.value)


def test_cosine_head_survives_batch_norm_folding():
    from assembled_cnn.nets import build_model
    from assembled_cnn.nets.fold import fold_batch_norm

    model = build_model("resnet18", num_classes=3, num_filters=8, logit_type="cosine", cosine_scale=5.0,
                        embedding_size=8, pool_type="gem")
    x = RNG.uniform(0, 1, (2, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(fold_batch_norm(model)(x).numpy(), model(x, training=False).numpy(), atol=1e-4)

"""Mixup types 1 and 2, CutMix, label smoothing and KD targets."""

import numpy as np
import pytest
import tensorflow as tf

from assembled_cnn.preprocessing import mixing
from assembled_cnn.preprocessing.mixing import MixingConfig

NUM_CLASSES = 6


def batch(size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 255, (size, 8, 8, 3)).astype(np.float32)
    labels = rng.integers(0, NUM_CLASSES, size).astype(np.int32)
    logits = rng.normal(size=(size, NUM_CLASSES)).astype(np.float32)
    return images, labels, logits


def softmax(logits, temperature=1.0):
    scaled = logits / temperature
    exp = np.exp(scaled - scaled.max(-1, keepdims=True))
    return exp / exp.sum(-1, keepdims=True)


def mix(first, second, lam):
    lam = lam.reshape([-1] + [1] * (first.ndim - 1))
    return lam * first + (1 - lam) * second


def test_label_smoothing_values_are_exact():
    smoothed = mixing.smooth_labels(tf.one_hot([2], 10), 0.1).numpy()[0]
    np.testing.assert_allclose(smoothed[2], 0.91, rtol=1e-6)
    np.testing.assert_allclose(np.delete(smoothed, 2), 0.01, rtol=1e-5)
    np.testing.assert_allclose(smoothed.sum(), 1.0, rtol=1e-6)


def test_mixup_type1_halves_the_batch_and_mixes_everything_with_one_lambda():
    images, labels, logits = batch(8)
    config = MixingConfig("mixup1", alpha=0.2, label_smoothing=0.1, kd_temperature=2.0)
    out = mixing.mix_batch(images, labels, NUM_CLASSES, config, logits, seed=[1, 2])
    lam = out.lam.numpy()
    assert out.images.shape == (4, 8, 8, 3) and lam.shape == (4,)
    assert ((lam >= 0) & (lam <= 1)).all()
    np.testing.assert_allclose(out.images, mix(images[:4], images[4:], lam), rtol=1e-5, atol=1e-3)
    targets = np.eye(NUM_CLASSES)[labels] * 0.9 + 0.1 / NUM_CLASSES
    np.testing.assert_allclose(out.targets, mix(targets[:4], targets[4:], lam), atol=1e-6)
    np.testing.assert_allclose(out.targets.numpy().sum(-1), 1.0, rtol=1e-6)
    teacher = softmax(logits, 2.0)
    np.testing.assert_allclose(out.teacher_probs, mix(teacher[:4], teacher[4:], lam), atol=1e-6)


def test_mixup_lambda_is_drawn_per_sample_from_a_u_shaped_beta():
    images, labels, _ = batch(2000)
    lam = mixing.mix_batch(images, labels, NUM_CLASSES, MixingConfig("mixup1", alpha=0.2),
                           seed=[3, 3]).lam.numpy()
    assert len(np.unique(lam)) > 900
    # Beta(0.2, 0.2): mean 0.5, most mass near 0 and 1
    assert abs(lam.mean() - 0.5) < 0.05 and ((lam < 0.1) | (lam > 0.9)).mean() > 0.5


def test_mixup_type2_mixes_in_batch_and_mixes_teacher_like_labels():
    images, labels, logits = batch(8)
    out = mixing.mix_batch(images, labels, NUM_CLASSES, MixingConfig("mixup2"), logits, [4, 1])
    lam = out.lam.numpy()
    lam1, lam2 = lam[:4], lam[4:]
    assert out.images.shape == (8, 8, 8, 3)
    x1, x2 = images[:4], images[4:]
    np.testing.assert_allclose(out.images[:4], mix(x1, x2, lam1), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(out.images[4:], mix(x1, x2[::-1], lam2), rtol=1e-5, atol=1e-3)
    y = np.eye(NUM_CLASSES)[labels]
    np.testing.assert_allclose(out.targets[4:], mix(y[:4], y[4:][::-1], lam2), atol=1e-6)
    # the original mixed the one-hot y1 into the teacher target here (BUG); not any more
    t = softmax(logits)
    np.testing.assert_allclose(out.teacher_probs[:4], mix(t[:4], t[4:], lam1), atol=1e-6)
    np.testing.assert_allclose(out.teacher_probs[4:], mix(t[:4], t[4:][::-1], lam2), atol=1e-6)
    assert not np.allclose(out.teacher_probs[4:], mix(y[:4], t[4:][::-1], lam2), atol=1e-3)


def test_cutmix_label_weight_equals_kept_area_fraction():
    size = 8
    images = np.stack([np.full((16, 20, 3), float(i)) for i in range(size)]).astype(np.float32)
    labels = np.arange(size, dtype=np.int32) % NUM_CLASSES
    _, _, logits = batch(size)
    out = mixing.mix_batch(images, labels, NUM_CLASSES, MixingConfig("cutmix", alpha=1.0),
                           logits, seed=[7, 7])
    lam = out.lam.numpy()
    partner = np.arange(size)[::-1]
    for i in range(size):
        kept = (out.images.numpy()[i, ..., 0] == i).mean()
        pasted = (out.images.numpy()[i, ..., 0] == partner[i]).mean()
        if partner[i] != i:
            np.testing.assert_allclose(kept + pasted, 1.0)
            np.testing.assert_allclose(kept, lam[i], atol=1e-6)
    y = np.eye(NUM_CLASSES)[labels]
    np.testing.assert_allclose(out.targets, mix(y, y[::-1], lam), atol=1e-6)
    np.testing.assert_allclose(out.targets.numpy().sum(-1), 1.0, rtol=1e-6)
    t = softmax(logits)
    np.testing.assert_allclose(out.teacher_probs, mix(t, t[::-1], lam), atol=1e-6)
    assert (lam < 1.0).any()  # some boxes were actually pasted


def test_cutmix_box_is_a_rectangle():
    images = np.zeros((2, 32, 32, 3), np.float32)
    images[1] = 1.0
    pasted_boxes = 0
    for seed in range(6):
        out = mixing.cutmix(images, np.eye(2, dtype=np.float32), alpha=1.0, seed=[seed, 5])
        rows, cols = np.nonzero(out.images.numpy()[0, ..., 0] == 1.0)
        if rows.size:
            pasted_boxes += 1
            assert rows.size == (np.ptp(rows) + 1) * (np.ptp(cols) + 1)
    assert pasted_boxes >= 3


def test_no_mixing_passes_images_and_one_hot_targets_through():
    images, labels, logits = batch(4)
    out = mixing.mix_batch(images, labels, NUM_CLASSES, MixingConfig(), logits)
    np.testing.assert_array_equal(out.images, images)
    np.testing.assert_array_equal(out.targets, np.eye(NUM_CLASSES)[labels])
    np.testing.assert_array_equal(out.lam, np.ones(4))
    np.testing.assert_allclose(out.teacher_probs, softmax(logits), atol=1e-6)


def test_invalid_settings_are_reported():
    with pytest.raises(ValueError, match="--mixup_type 1 / 2"):
        MixingConfig("mixup3")
    with pytest.raises(ValueError, match="alpha=0"):
        MixingConfig("cutmix", alpha=0)
    images, labels, _ = batch(5)
    with pytest.raises(ValueError, match="even batch"):
        mixing.mix_batch(images, labels, NUM_CLASSES, MixingConfig("mixup1"))

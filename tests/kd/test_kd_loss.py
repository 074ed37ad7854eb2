"""The KD loss is the original's T² · CE(softmax(t/T), softmax(s/T)), gradient T(q − p)/B."""

import numpy as np
import pytest
import tensorflow as tf

from assembled_cnn.kd import kd_loss, teacher_probabilities

STUDENT = np.array([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]], np.float32)
TEACHER = np.array([[1.0, 0.0, -1.0], [-0.5, 2.5, 0.5]], np.float32)


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_value_matches_a_hand_computation_at_t2():
    t = 2.0
    p = softmax(TEACHER / t)
    log_q = np.log(softmax(STUDENT / t))
    expected = t * t * np.mean(-(p * log_q).sum(axis=1))
    probs = teacher_probabilities(TEACHER, t)
    np.testing.assert_allclose(probs.numpy(), p, rtol=1e-6)
    assert float(kd_loss(STUDENT, probs, t)) == pytest.approx(expected, rel=1e-6)
    # Written out for the first row so the formula is checked, not just re-implemented.
    row0 = -(p[0] * (STUDENT[0] / t - np.log(np.exp(STUDENT[0] / t).sum()))).sum()
    row1 = -(p[1] * (STUDENT[1] / t - np.log(np.exp(STUDENT[1] / t).sum()))).sum()
    assert expected == pytest.approx(4.0 * (row0 + row1) / 2, rel=1e-6)


@pytest.mark.parametrize("t", [1.0, 2.0, 4.0])
def test_gradient_is_t_times_q_minus_p_over_b(t):
    student = tf.Variable(STUDENT)
    probs = teacher_probabilities(TEACHER, t)
    with tf.GradientTape() as tape:
        loss = kd_loss(student, probs, t)
    gradient = tape.gradient(loss, student).numpy()
    expected = t * (softmax(STUDENT / t) - probs.numpy()) / len(STUDENT)
    np.testing.assert_allclose(gradient, expected, rtol=1e-5, atol=1e-7)


def test_mixed_precision_inputs_and_clear_errors():
    loss16 = kd_loss(tf.constant(STUDENT, tf.float16), teacher_probabilities(TEACHER, 1.0), 1.0)
    assert loss16.dtype == tf.float32
    with pytest.raises(ValueError, match="--offset"):
        kd_loss(STUDENT, np.ones((2, 4), np.float32) / 4, 1.0)
    with pytest.raises(ValueError, match="kd_temp"):
        kd_loss(STUDENT, teacher_probabilities(TEACHER, 1.0), 0.0)

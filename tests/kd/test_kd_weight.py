"""--kd_weight multiplies the distillation term of the training loss (1.0: the original)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from assembled_cnn.config import ConfigError, DataConfig, ExperimentConfig, RunConfig
from assembled_cnn.datasets.registry import DatasetInfo
from assembled_cnn.kd import kd_loss, teacher_probabilities
from assembled_cnn.nets import ModelConfig
from assembled_cnn.train.task import ClassificationTask

NUM_CLASSES = 3
IMAGES = np.random.default_rng(0).normal(size=(4, 5)).astype(np.float32)
LABELS = tf.one_hot([0, 1, 2, 1], NUM_CLASSES)
TEACHER = np.array([[2.0, 0.0, -1.0], [0.0, 1.5, 0.5], [-1.0, 0.0, 2.5], [0.3, 0.2, 0.1]], np.float32)


class NoRegularization:
    def loss(self):
        return tf.constant(0.0)


def config(**data) -> ExperimentConfig:
    return ExperimentConfig(model=ModelConfig(num_classes=NUM_CLASSES),
                            data=DataConfig(dataset_name="toy", data_dir="/nonexistent", **data),
                            run=RunConfig(model_dir="/tmp/unused")).validate()


def loss_parts(model, temperature: float, **data) -> dict:
    task = ClassificationTask(config(kd_temp=temperature, **data),
                              DatasetInfo("toy", NUM_CLASSES, train_size=4, validation_size=4))
    targets = {"targets": LABELS, "teacher_probs": teacher_probabilities(TEACHER, temperature)}
    total, _, parts = task.compute_loss(model, {"image": IMAGES}, targets, NoRegularization(), 1)
    return {"total": float(total), **{k: float(v) for k, v in parts.items()}}


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(NUM_CLASSES)])


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_the_kd_term_scales_with_kd_weight(model, temperature):
    expected = float(kd_loss(model(IMAGES), teacher_probabilities(TEACHER, temperature), temperature))
    assert expected > 0.1
    default = loss_parts(model, temperature)  # kd_weight 1.0: the original's unweighted T²·CE
    assert default["distillation"] == pytest.approx(expected, rel=1e-5)
    for weight in (0.0, 0.5, 2.5):
        parts = loss_parts(model, temperature, kd_weight=weight)
        assert parts["distillation"] == pytest.approx(weight * expected, rel=1e-5, abs=1e-7)
        assert parts["cross_entropy"] == pytest.approx(default["cross_entropy"], rel=1e-6)
        assert parts["total"] == pytest.approx(parts["cross_entropy"] + weight * expected, rel=1e-5)


def test_a_negative_kd_weight_is_refused():
    with pytest.raises(ConfigError, match="kd_weight"):
        config(kd_temp=1.0, kd_weight=-0.5)
    assert config().data.kd_weight == 1.0

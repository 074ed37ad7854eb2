"""FixRes (Touvron et al., NeurIPS 2019): train at a low resolution, fine-tune and test at a
higher one.

Random-resized-crop training makes objects look larger than the centre-cropped test images,
so a network tests best at a resolution above its training one — but only once the
statistics that depend on the resolution (BN moving averages, the classifier on pooled
features) are adapted. Stage 1 is an ordinary run at ``train_size``; stage 2
(:func:`fixres_finetune`) starts from the *whole* stage-1 network, classifier included,
and fine-tunes briefly at ``test_size`` with a low learning rate: either only the
classifier while BN statistics are re-estimated (``train_layers="classifier_bn"``) or all
layers (``"all"``). SimpleClassification's recipe is 224 → fine-tune at 448.

Stage 2 is an ordinary run of the same runner: a warm start from the stage-1 model_dir with
``warm_start_head`` (the classifier too) and ``warm_start_bn_stats``, so it starts from every
weight of the stage-1 network and trains with a fresh optimizer and schedule.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import tensorflow as tf

from assembled_cnn.config import ExperimentConfig
from assembled_cnn.model_dir import load_model_config, restore_model
from assembled_cnn.train import metrics as metrics_lib
from assembled_cnn.train import runner as runner_lib
from assembled_cnn.train.layer_groups import GROUP_ORDER
from assembled_cnn.train.task import ClassificationTask

TRAIN_LAYER_CHOICES = ("classifier_bn", "all")


@dataclass(frozen=True)
class FixResConfig:
    """Stage 2 of FixRes: fine-tune at `test_size` and evaluate there."""

    test_size: int
    epochs: float = 1.0
    learning_rate: float = 1e-3
    train_layers: str = "classifier_bn"  # or "all"
    bn_momentum: float | None = 0.9  # faster BN re-estimation than the usual 0.997
    max_train_steps: int | None = None

    def __post_init__(self):
        if self.train_layers not in TRAIN_LAYER_CHOICES:
            raise ValueError(f"train_layers={self.train_layers!r}: choose one of {TRAIN_LAYER_CHOICES}")
        if self.test_size < 8:
            raise ValueError(f"test_size={self.test_size} is too small (>= 8 pixels)")


def stage2_config(base_config: ExperimentConfig, stage1_model_dir: str, fixres: FixResConfig,
                  model_dir: str) -> ExperimentConfig:
    """The stage-2 experiment: the stage-1 network and data at `test_size`, a short low-LR run."""
    model = load_model_config(stage1_model_dir)
    if fixres.bn_momentum is not None:
        model = dataclasses.replace(model, bn_momentum=fixres.bn_momentum)
    frozen = {group: 0.0 for group in GROUP_ORDER if group != "head"}
    train = dataclasses.replace(
        base_config.train, train_epochs=fixres.epochs, max_train_steps=fixres.max_train_steps,
        base_learning_rate=fixres.learning_rate, learning_rate_decay_type="cosine",
        lr_warmup_epochs=0.0, l2sp_alpha=0.0, l2sp_beta=0.0, new_layers=0,
        lr_multipliers=frozen if fixres.train_layers == "classifier_bn" else {})
    data = dataclasses.replace(base_config.data, train_size=fixres.test_size, test_size=fixres.test_size)
    run = dataclasses.replace(base_config.run, model_dir=model_dir, mode="train_and_eval",
                              pretrained_model_checkpoint_path=stage1_model_dir, warm_start_head=True,
                              warm_start_bn_stats=True, clean=False, export_dir=None,
                              epochs_between_evals=max(fixres.epochs, 1e-6))
    return ExperimentConfig(model=model, data=data, train=train, run=run).validate()


def fixres_finetune(base_config: ExperimentConfig, stage1_model_dir: str, test_size: int,
                    epochs: float = 1.0, lr: float = 1e-3, *, model_dir: str | None = None,
                    train_layers: str = "classifier_bn", bn_momentum: float | None = 0.9,
                    max_train_steps: int | None = None) -> dict:
    """Stage 2 of FixRes; returns the metrics at `test_size` after fine-tuning.

    base_config: the stage-1 experiment (data, batch size, weight decay, augmentation).
    model_dir: where stage 2 writes (default: `<stage1_model_dir>_fixres<test_size>`).
    """
    fixres = FixResConfig(test_size, epochs, lr, train_layers, bn_momentum, max_train_steps)
    model_dir = model_dir or f"{os.path.normpath(stage1_model_dir)}_fixres{test_size}"
    config = stage2_config(base_config, stage1_model_dir, fixres, model_dir)
    if tf.train.latest_checkpoint(stage1_model_dir) is None:
        raise FileNotFoundError(f"stage-1 model_dir {stage1_model_dir!r} has no checkpoint; train stage 1 first")
    runner = runner_lib.Runner(config)
    try:
        return runner.train(evaluate=True)
    finally:
        runner.close()


def evaluate_at_size(model_dir: str, config: ExperimentConfig, test_size: int,
                     batch_size: int | None = None) -> dict:
    """Metrics of `model_dir`'s latest weights on the validation split at `test_size`, without
    touching the model_dir (no eval_results.json, no best/ copies)."""
    data = dataclasses.replace(config.data, test_size=test_size)
    train = dataclasses.replace(config.train, batch_size=batch_size or config.train.batch_size)
    model_config = load_model_config(model_dir)
    experiment = dataclasses.replace(config, data=data, train=train, model=model_config)
    task = ClassificationTask(experiment)
    model = restore_model(model_dir)
    step = tf.function(lambda images, labels: metrics_lib.batch_statistics(
        labels, model(images, training=False), task.info.num_classes), reduce_retracing=True)
    total = None
    for features, targets in task.build_inputs(False):
        stats = step(features["image"], targets["label"])
        total = metrics_lib.accumulate(total, {k: v.numpy() for k, v in stats.items()})
    if total is None:
        raise ValueError(f"no validation records in {config.data.data_dir!r}")
    return metrics_lib.summarize(total)

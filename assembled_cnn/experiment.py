"""A model_dir is the experiment: the one place that loads it back.

Every tool that takes a model_dir (eval and continuous eval, export, predict, KD logit
extraction, corruption robustness, transfer features) asks this module for the network, the
preprocessing it was trained with, its class names and which weights to use, instead of
retyping flags. What a run records:

* `hparams.json`: the whole `ExperimentConfig` (written by the runner);
* `model_config.json`: how to rebuild the network (also written by the TF1 converter);
* `dataset_info.json`: a copy of the training data's info (class names), written by the runner;
* TF2 checkpoints whose root has the network under `model` (and `ema` when EMA was on).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import keras
import tensorflow as tf

from assembled_cnn.config import ConfigError, ExperimentConfig
from assembled_cnn.model_dir import MODEL_CONFIG_FILE, load_model_config
from assembled_cnn.nets import ModelConfig, build_model
from assembled_cnn.preprocessing import PreprocessConfig, get_preset

HPARAMS_FILE = "hparams.json"
DATASET_INFO_FILE = "dataset_info.json"
WEIGHT_CHOICES = ("auto", "latest", "best", "ema", "raw")


@dataclass
class Experiment:
    """A restored model_dir: call `model` on batches preprocessed with `preprocess`."""

    model_dir: str
    model: keras.Model
    model_config: ModelConfig
    preprocess: PreprocessConfig
    checkpoint: str
    weights: str  # 'latest' | 'best' | 'ema' | 'raw' (the checkpoint's training weights)
    config: ExperimentConfig | None = None  # None for a converted checkpoint (no hparams.json)
    class_names: list[str] | None = field(default=None)

    @property
    def num_classes(self) -> int:
        return int(self.model.output_shape[-1])


def read_config(model_dir: str) -> ExperimentConfig | None:
    """The experiment config a run recorded in `model_dir`, or None (e.g. a converted checkpoint)."""
    path = os.path.join(model_dir, HPARAMS_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return ExperimentConfig.from_dict(json.load(handle))
    except (ValueError, TypeError) as error:
        raise ConfigError(f"{path} cannot be read as an experiment config ({error}); "
                          "it was not written by this version of assembled_cnn") from error


def recorded_preprocess(config: ExperimentConfig) -> PreprocessConfig:
    """The eval preprocessing of a recorded run, exactly as its task built it."""
    from assembled_cnn.train.task import preprocess_config_of

    return preprocess_config_of(config.data)


# What a converter records beside a checkpoint without a run: import_weights writes config.json.
CONVERTED_CONFIG_FILES = ("train_config.json", "config.json")


def _recorded_type_in(path: str) -> str | None:
    """`preprocessing_type` at the top level of a JSON file or one object down, if any."""
    try:
        with open(path, encoding="utf-8") as handle:
            payload = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(payload, dict):
        return None
    for scope in (payload, *[value for value in payload.values() if isinstance(value, dict)]):
        if isinstance(scope.get("preprocessing_type"), str):
            return scope["preprocessing_type"]
    return None


def converted_preprocessing_type(model_dir: str) -> str | None:
    """The preset a converter or import_weights recorded in a model_dir without hparams.json."""
    for name in CONVERTED_CONFIG_FILES:
        path = os.path.join(model_dir, name)
        recorded = _recorded_type_in(path) if os.path.isfile(path) else None
        if recorded:
            return recorded
    return None


def input_size_preprocessing_type(model: keras.Model) -> str:
    """`imagenet` (resize 256 → crop 224) for a 224-px or any-size model, else `imagenet_N`."""
    height = model.input_shape[1]
    return "imagenet" if height in (None, 224) else f"imagenet_{height}"


def choose_preprocess(config: ExperimentConfig | None, model: keras.Model,
                      preprocessing_type: str | None, model_dir: str) -> PreprocessConfig:
    """The recorded preprocessing; an explicit different preset is a one-line error naming both.

    Without a run (no hparams.json): `preprocessing_type`, else what a converter recorded
    (`converted_preprocessing_type`), else the model's input size's ImageNet preset."""
    if config is not None:
        recorded = recorded_preprocess(config)
        if preprocessing_type and preprocessing_type != config.data.preprocessing_type:
            raise ConfigError(f"--preprocessing_type={preprocessing_type} contradicts "
                              f"{config.data.preprocessing_type!r} recorded in {model_dir}/{HPARAMS_FILE}; "
                              "drop the flag to use what the model was trained with")
        return recorded
    return get_preset(preprocessing_type or converted_preprocessing_type(model_dir)
                      or input_size_preprocessing_type(model))


def read_class_names(model_dir: str, num_classes: int) -> list[str] | None:
    path = os.path.join(model_dir, DATASET_INFO_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        if not json.load(handle).get("label_map"):  # a dataset without class names
            return None
    from assembled_cnn.export import load_class_names

    return load_class_names(path, num_classes)


def save_dataset_info(model_dir: str, data_dir: str) -> None:
    """Copy the training data's dataset_info.json (class names) into the model_dir."""
    source = os.path.join(data_dir or "", DATASET_INFO_FILE)
    if data_dir and os.path.isfile(source):
        from assembled_cnn.utils.io import write_bytes_atomic

        with open(source, "rb") as handle:
            write_bytes_atomic(os.path.join(model_dir, DATASET_INFO_FILE), handle.read())


def _best_checkpoint(model_dir: str) -> str:
    from assembled_cnn.train.checkpoints import BEST_DIR, BEST_INDEX

    path = os.path.join(model_dir, BEST_DIR, BEST_INDEX)
    if not os.path.isfile(path):
        raise ConfigError(f"--weights=best: {path} does not exist (the run kept no best checkpoint)")
    with open(path, encoding="utf-8") as handle:
        entries = json.load(handle)
    return os.path.join(model_dir, BEST_DIR, entries[0]["checkpoint"])


def resolve_weights(model_dir: str, config: ExperimentConfig | None, weights: str,
                    checkpoint: str | None) -> tuple[str, bool]:
    """(checkpoint path, use the EMA shadow) for a `--weights` choice."""
    if weights not in WEIGHT_CHOICES:
        raise ConfigError(f"--weights={weights!r}: choose one of {', '.join(WEIGHT_CHOICES)}")
    has_ema = config is not None and config.train.ema_decay > 0
    if weights == "ema" and not has_ema:
        raise ConfigError(f"--weights=ema: the run in {model_dir} did not keep an EMA (ema_decay=0)")
    path = checkpoint or (_best_checkpoint(model_dir) if weights == "best" else tf.train.latest_checkpoint(model_dir))
    if path is None:
        raise ConfigError(f"no checkpoint in --model_dir={model_dir}; train first or pass another model_dir")
    return path, has_ema and weights in ("auto", "ema", "best")


def _restore(model: keras.Model, path: str, use_ema: bool, decay: float) -> None:
    if not use_ema:
        tf.train.Checkpoint(model=model).read(path).expect_partial().assert_existing_objects_matched()
        return
    from assembled_cnn.train.ema import WeightEma

    ema = WeightEma(model, decay)
    tf.train.Checkpoint(model=model, ema=ema).read(path).expect_partial().assert_existing_objects_matched()
    for weight, shadow in zip(model.weights, ema.shadow):
        weight.assign(shadow)


def build_recorded_model(model_dir: str, config: ExperimentConfig | None) -> tuple[keras.Model, ModelConfig]:
    """The network of `model_dir` as its run built it (input size and dtype policy included)."""
    if config is None:
        model_config = load_model_config(model_dir)
        return build_model(config=model_config), model_config
    from assembled_cnn.train.task import build_task_model

    model = build_task_model(config)
    return model, load_model_config(model_dir) if os.path.isfile(
        os.path.join(model_dir, MODEL_CONFIG_FILE)) else config.model


def load_experiment(model_dir: str, weights: str = "auto", checkpoint: str | None = None,
                    preprocessing_type: str | None = None) -> Experiment:
    """Restore `model_dir` as the runner evaluates it (`auto`: the EMA copy when EMA was on)."""
    if not os.path.isdir(model_dir):
        raise ConfigError(f"--model_dir={model_dir} does not exist")
    config = read_config(model_dir)
    if config is None and not os.path.isfile(os.path.join(model_dir, MODEL_CONFIG_FILE)):
        raise ConfigError(f"--model_dir={model_dir} is not a model_dir written by assembled_cnn (no {HPARAMS_FILE} "
                          f"or {MODEL_CONFIG_FILE}); train one with main_classification.py or convert a TF1 "
                          "checkpoint with python -m assembled_cnn.tools.convert_tf1_checkpoint")
    model, model_config = build_recorded_model(model_dir, config)
    path, use_ema = resolve_weights(model_dir, config, weights, checkpoint)
    _restore(model, path, use_ema, config.train.ema_decay if config else 0.0)
    preprocess = choose_preprocess(config, model, preprocessing_type, model_dir)
    chosen = "ema" if use_ema else ("best" if weights == "best" else ("raw" if weights == "raw" else "latest"))
    return Experiment(model_dir=model_dir, model=model, model_config=model_config, preprocess=preprocess,
                      checkpoint=path, weights=chosen, config=config,
                      class_names=read_class_names(model_dir, int(model.output_shape[-1])))

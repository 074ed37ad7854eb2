"""The model_dir contract shared by the converter, the trainer and the evaluation tools.

A model_dir holds `model_config.json` (how to rebuild the network) and TF2 checkpoints written
by `tf.train.CheckpointManager` whose root object has the network under the key `model`.
"""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf

from assembled_cnn.nets import ModelConfig, build_model
from assembled_cnn.utils.io import write_json_atomic

MODEL_CONFIG_FILE = "model_config.json"


def save_model_config(model_dir: str, config: ModelConfig) -> str:
    path = os.path.join(model_dir, MODEL_CONFIG_FILE)
    write_json_atomic(path, config.to_dict())
    return path


def load_model_config(model_dir: str) -> ModelConfig:
    path = os.path.join(model_dir, MODEL_CONFIG_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: {model_dir!r} is not a model_dir written by assembled_cnn "
                                "(convert an original checkpoint with python -m assembled_cnn.tools."
                                "convert_tf1_checkpoint, or train one with main_classification.py)")
    with open(path) as handle:
        return ModelConfig.from_dict(json.load(handle))


def save_model_checkpoint(model_dir: str, model: keras.Model, step: int = 0) -> str:
    """Write the model weights as checkpoint number `step` in model_dir (keeps older ones)."""
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model), model_dir, max_to_keep=None)
    return manager.save(checkpoint_number=step)


def restore_model(model_dir: str, checkpoint: str | None = None, **overrides) -> keras.Model:
    """Rebuild the network of `model_dir` and restore its latest (or the given) checkpoint."""
    config = load_model_config(model_dir)
    if overrides:
        config = ModelConfig.from_dict({**config.to_dict(), **overrides})
    model = build_model(config=config)
    path = checkpoint or tf.train.latest_checkpoint(model_dir)
    if path is None:
        raise FileNotFoundError(f"no checkpoint in {model_dir!r}")
    status = tf.train.Checkpoint(model=model).read(path)
    status.expect_partial().assert_existing_objects_matched()
    return model

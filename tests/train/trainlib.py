"""A small learnable image dataset in the original TFRecord schema, and config helpers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import tensorflow as tf

from assembled_cnn.config import DataConfig, ExperimentConfig, RunConfig, TrainConfig
from assembled_cnn.datasets import schema
from assembled_cnn.nets import model_config

NUM_CLASSES = 4


def toy_images(count: int, seed: int, size: int = 32):
    """Class k is a bright horizontal band in the k-th quarter of the rows, on noise: invariant to
    flips, tolerant to the 4-px pad-crop, learnable in a few steps."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % NUM_CLASSES
    images = rng.integers(0, 60, (count, size, size, 3)).astype(np.uint8)
    band = size // NUM_CLASSES
    for i, k in enumerate(labels):
        images[i, int(k) * band + 2:int(k) * band + band - 2, 4:size - 4] = 230
    return images, labels


def write_toy_dataset(root: Path, train: int = 256, validation: int = 64, shards: int = 4) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    splits = {}
    for split, count, n_shards, seed in (("train", train, shards, 0), ("validation", validation, 1, 1)):
        images, labels = toy_images(count, seed)
        for shard in range(n_shards):
            path = root / f"{split}-{shard:05d}-of-{n_shards:05d}"
            with tf.io.TFRecordWriter(str(path)) as writer:
                for i in range(shard, count, n_shards):
                    png = tf.io.encode_png(images[i]).numpy()
                    example = schema.make_example(png, int(labels[i]), filename=f"{split}_{i}.png",
                                                  height=32, width=32, image_format="PNG")
                    writer.write(example.SerializeToString())
        splits[split] = {"num_records": count, "num_shards": n_shards}
    info = {"name": "toy", "num_classes": NUM_CLASSES, "image_format": "PNG", "channels": 3, "splits": splits}
    (root / "dataset_info.json").write_text(json.dumps(info))
    return root


def toy_config(data_dir, model_dir, **overrides) -> ExperimentConfig:
    model = model_config("resnet18", **{"num_classes": NUM_CLASSES, "num_filters": 8, "bn_momentum": 0.8, **overrides.pop("model", {})})
    data = DataConfig(**{"dataset_name": "toy", "data_dir": str(data_dir), "preprocessing_type": "cifar",
                         "deterministic": True, "seed": 3, **overrides.pop("data", {})})
    train = TrainConfig(**{"batch_size": 32, "train_epochs": 1, "base_learning_rate": 0.05,
                           "learning_rate_decay_type": "cosine", "weight_decay": 1e-4, **overrides.pop("train", {})})
    run = RunConfig(**{"model_dir": str(model_dir), "mode": "train_and_eval", "log_every_n_steps": 2,
                       "save_checkpoints_steps": 4, "op_determinism": True, **overrides.pop("run", {})})
    assert not overrides, overrides
    return ExperimentConfig(model=model, data=data, train=train, run=run)


def run_main_classification(*args):
    """main_classification.py in a child process (absl flags are global), quiet TF, no GPU."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    script = Path(__file__).resolve().parents[2] / "main_classification.py"
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, env=env)

"""Shared settings and helpers of the results suite (docs/results.md).

Every measured number is one JSON file under ``$RESULTS_DIR`` (default runs/results), written
when its run finishes; a rerun (after a crash or to rebuild the report) skips finished files.
The settings are sized for a 2-core CPU machine: tiny ResNet-18s (16 filters), 32-px
inputs, a few hundred SGD steps of batch 128.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from assembled_cnn.config import DataConfig, ExperimentConfig, RunConfig, TrainConfig  # noqa: E402
from assembled_cnn.nets import model_config  # noqa: E402
from assembled_cnn.utils.io import write_json_atomic  # noqa: E402

RESULTS_DIR = Path(os.environ.get("RESULTS_DIR", REPO / "runs" / "results"))
DATA_ROOT = Path(os.environ.get("DATA_ROOT", REPO / "data"))
SEEDS = (0, 1, 2)
DATASETS = ("fashion_mnist", "mnist")
IMAGE_SIZE = 32
BATCH_SIZE = 128
TRAIN_STEPS = 200  # ≈ 0.43 epoch of the 60k training images
NUM_FILTERS = 16
BASE_LR = 0.1
WEIGHT_DECAY = 5e-5
BN_MOMENTUM = 0.9  # short runs: the default 0.997 would leave BN statistics near their init

ASSEMBLED_MODEL = dict(use_resnet_d=True, use_sk_block=True, anti_alias_type="sconv",
                       anti_alias_filter_size=3, use_dropblock=True, dropblock_block_size=3,
                       zero_gamma=True)
ASSEMBLED_DATA = dict(mixup_type=2, mixup_alpha=0.2, label_smoothing=0.1)


def ensure_dataset(name: str) -> str:
    """The TFRecords of `name` under DATA_ROOT, fetched and built on first use."""
    data_dir = DATA_ROOT / name
    if not (data_dir / "dataset_info.json").is_file():
        subprocess.run([sys.executable, "-m", "assembled_cnn.datasets.fetch", name,
                        "--output_dir", str(data_dir)], check=True, cwd=REPO)
    return str(data_dir)


def small_resnet_config(dataset: str, data_dir: str, model_dir: str, seed: int, *,
                        assembled: bool = False, num_filters: int = NUM_FILTERS,
                        steps: int = TRAIN_STEPS, train_size: int = IMAGE_SIZE,
                        test_size: int = IMAGE_SIZE, **data_overrides) -> ExperimentConfig:
    """A resnet18-shaped network (vanilla, or + ResNet-D, SK, anti-alias, DropBlock, mixup,
    label smoothing) trained for `steps` SGD steps with a cosine LR."""
    model = model_config("resnet18", num_classes=10, num_filters=num_filters, bn_momentum=BN_MOMENTUM,
                         **(ASSEMBLED_MODEL if assembled else {}))
    data = DataConfig(dataset_name=dataset, data_dir=data_dir, preprocessing_type="mnist",
                      train_size=train_size, test_size=test_size, deterministic=True, seed=seed,
                      **{**(ASSEMBLED_DATA if assembled else {}), **data_overrides})
    train = TrainConfig(batch_size=BATCH_SIZE, train_epochs=1.0, max_train_steps=steps,
                        base_learning_rate=BASE_LR, learning_rate_decay_type="cosine",
                        lr_warmup_epochs=0.0, weight_decay=WEIGHT_DECAY,
                        dropblock_kp=[1.0, 0.9])
    run = RunConfig(model_dir=model_dir, mode="train_and_eval", epochs_between_evals=1e9,
                    keep_checkpoint_max=1, num_best_ckpt_to_keep=1, log_every_n_steps=50,
                    save_checkpoints_steps=steps)
    return ExperimentConfig(model=model, data=data, train=train, run=run).validate()


def cached(path: Path, compute: Callable[[], dict]) -> dict:
    """The stored result at `path`, or compute it, add its wall time and store it."""
    if path.is_file():
        return json.loads(path.read_text())
    started = time.perf_counter()
    result = compute()
    result["seconds"] = round(time.perf_counter() - started, 2)
    write_json_atomic(str(path), result)
    return result


def train(config: ExperimentConfig) -> dict:
    """Train (resuming a killed run from its checkpoint) and return the final evaluation."""
    from assembled_cnn.train.runner import run

    metrics = run(config)
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float))}


def settings_dict(config: ExperimentConfig) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(config)))

"""Real images for the int8 calibration and the export check: the model_dir's validation split.

A run records its data in ``hparams.json`` (``data.data_dir``, ``data.val_regex``,
``data.dataset_name``); ``--data_dir`` overrides it (or supplies it for a converted checkpoint,
which records none). Images are preprocessed with the export's eval preset, as the runner's
evaluation does, and come in file order (deterministic).
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from assembled_cnn.datasets import schema
from assembled_cnn.preprocessing import PreprocessConfig, preprocess_image

DEFAULT_PATTERN = "validation-*"


@dataclass(frozen=True)
class DataSource:
    data_dir: str
    pattern: str = DEFAULT_PATTERN
    label_offset: int = 0


def recorded_data(model_dir: str) -> dict:
    """The `data` section of the run's hparams.json ({} for a converted checkpoint)."""
    path = os.path.join(model_dir, "hparams.json")
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            payload = json.load(handle)
    except (OSError, ValueError):
        return {}
    data = payload.get("data") if isinstance(payload, dict) else None
    return data if isinstance(data, dict) else {}


def data_source(model_dir: str, data_dir: str | None = None) -> DataSource | None:
    """Where the model_dir's validation records are (None: nothing recorded and none given)."""
    recorded = recorded_data(model_dir)
    directory = data_dir or recorded.get("data_dir")
    if not directory:
        return None
    offset = 0
    if recorded.get("dataset_name"):
        from assembled_cnn.datasets.registry import get_dataset_info

        try:
            offset = get_dataset_info(recorded["dataset_name"], directory).label_offset
        except (KeyError, OSError, ValueError):
            offset = 0
    return DataSource(directory, recorded.get("val_regex") or DEFAULT_PATTERN, offset)


def read_images(source: DataSource, preprocess: PreprocessConfig,
                count: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `count` validation images (float32 NHWC, preprocessed) and their labels."""
    files = sorted(glob.glob(os.path.join(source.data_dir, source.pattern)))
    if not files:
        raise FileNotFoundError(f"no validation records {source.pattern!r} in {source.data_dir!r}; "
                                "pass --data_dir with the TFRecords the model was evaluated on")

    def parse(serialized):
        record = schema.parse_example(serialized)
        image = preprocess_image(record["image_bytes"], False, preprocess)
        return image, record["label"] - source.label_offset

    dataset = tf.data.TFRecordDataset(files).take(count).map(parse).batch(max(count, 1))
    images, labels = next(iter(dataset))
    return images.numpy(), labels.numpy().astype(np.int64)


def representative_dataset(images: np.ndarray):
    """The int8 calibration set in the form TFLite's converter asks for: one image per step."""
    def generate():
        for image in images:
            yield [image[np.newaxis].astype(np.float32)]
    return generate

"""Tiny image TFRecords and a tiny teacher for the distillation tests."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from assembled_cnn.datasets import schema

IMAGE_SIZE = 32
NUM_CLASSES = 10


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def write_shards(folder: Path, counts: dict[str, int], seed: int = 0) -> dict[str, list[bytes]]:
    """Shards name -> n random RGB PNG records (labels 0..9, a box on every third)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[bytes]] = {}
    for name, count in counts.items():
        records = []
        for index in range(count):
            pixels = rng.integers(0, 256, (IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
            boxes = [(0.1, 0.2, 0.8, 0.9)] if index % 3 == 0 else None
            example = schema.make_example(
                png_bytes(pixels), int(rng.integers(0, NUM_CLASSES)),
                filename=f"{name}_{index}.png",
                height=IMAGE_SIZE, width=IMAGE_SIZE, image_format="PNG", synset=f"n{index:03d}",
                text="thing", bboxes=boxes)
            records.append(example.SerializeToString())
        with tf.io.TFRecordWriter(str(folder / name)) as writer:
            for record in records:
                writer.write(record)
        written[name] = records
    return written


def read_records(path: Path) -> list[bytes]:
    return [record.numpy() for record in tf.data.TFRecordDataset(str(path))]


def features_without_logit(serialized: bytes) -> dict:
    example = tf.train.Example.FromString(serialized)
    features = dict(example.features.feature)
    features.pop(schema.KEY_LOGIT, None)
    return {key: value.SerializeToString() for key, value in features.items()}


def logits_of(serialized: bytes) -> np.ndarray:
    example = tf.train.Example.FromString(serialized)
    return np.asarray(example.features.feature[schema.KEY_LOGIT].float_list.value, np.float32)

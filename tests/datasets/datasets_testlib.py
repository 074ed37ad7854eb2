"""Helpers for the dataset tests: tiny real image files and reading shards back."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image


def image_bytes(fmt: str = "JPEG", mode: str = "RGB", size=(10, 8), seed: int = 0) -> bytes:
    """A small image with random pixels in the given Pillow format and mode."""
    rng = np.random.default_rng(seed)
    rgb = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
    image = rgb.convert(mode) if mode != "RGB" else rgb
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def write_image(path: Path, fmt: str = "JPEG", mode: str = "RGB", seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(image_bytes(fmt, mode, seed=seed))
    return path


def read_split(output_dir: Path, split: str, **parse_kwargs) -> list[dict]:
    """Every record of a split, parsed with schema.parse_example inside tf.data."""
    import tensorflow as tf

    from assembled_cnn.datasets.schema import parse_example

    files = sorted(str(p) for p in Path(output_dir).glob(f"{split}-*"))
    if not files:
        return []
    dataset = tf.data.TFRecordDataset(files).map(lambda s: parse_example(s, **parse_kwargs))
    return list(dataset.as_numpy_iterator())


def load_info(output_dir: Path) -> dict:
    return json.loads((Path(output_dir) / "dataset_info.json").read_text())

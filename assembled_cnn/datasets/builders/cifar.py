"""CIFAR-10 / CIFAR-100 in the official *binary* version (no pickle is ever loaded).

CIFAR-10: ``cifar-10-batches-bin/data_batch_{1..5}.bin``, ``test_batch.bin``,
``batches.meta.txt``; records are 1 label byte + 3072 pixel bytes (R, G, B planes).
CIFAR-100: ``cifar-100-binary/train.bin``, ``test.bin``, ``fine_label_names.txt``;
records are coarse byte + fine byte + 3072 pixel bytes; the fine label is used.
Images are stored losslessly as PNG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assembled_cnn.datasets.builders.base import (TRAIN, VALIDATION, BuildConfig,
                                                  DatasetLayoutError, RawDataset, RawItem,
                                                  find_root, read_lines, require_file)

PIXELS = 32 * 32 * 3
HINT = "Download the binary version (cifar-*-binary.tar.gz), extract it, and pass it as --raw_dir."


def read_records(path: Path, label_bytes: int, label_index: int) -> tuple[np.ndarray, np.ndarray]:
    """(N,32,32,3) uint8 images and (N,) labels from one binary batch file."""
    require_file(path, "CIFAR batch", HINT)
    raw = np.fromfile(path, dtype=np.uint8)
    record = label_bytes + PIXELS
    if raw.size == 0 or raw.size % record:
        raise DatasetLayoutError(
            f"{path} has {raw.size} bytes, not a multiple of the {record}-byte record; "
            "the file is truncated or not the binary version.")
    rows = raw.reshape(-1, record)
    images = rows[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), rows[:, label_index].astype(np.int64)


def _items(files: list[Path], label_bytes: int, label_index: int, num_classes: int,
           names: list[str]) -> list[RawItem]:
    items = []
    for path in files:
        images, labels = read_records(path, label_bytes, label_index)
        if labels.max(initial=0) >= num_classes:
            raise DatasetLayoutError(f"{path}: label {labels.max()} >= {num_classes} classes")
        items.extend(RawItem(images[i], int(labels[i]), filename=f"{path.stem}_{i:05d}.png",
                             synset=names[labels[i]]) for i in range(len(labels)))
    return items


def read_cifar10(raw_dir: Path, config: BuildConfig) -> RawDataset:
    root = find_root(raw_dir, "test_batch.bin", ["cifar-10-batches-bin"])
    names = read_lines(require_file(root / "batches.meta.txt", "class names", HINT))[:10]
    train_files = [root / f"data_batch_{i}.bin" for i in range(1, 6)]
    return RawDataset({TRAIN: _items(train_files, 1, 0, 10, names),
                       VALIDATION: _items([root / "test_batch.bin"], 1, 0, 10, names)},
                      names, storage="png")


def read_cifar100(raw_dir: Path, config: BuildConfig) -> RawDataset:
    root = find_root(raw_dir, "test.bin", ["cifar-100-binary"])
    names = read_lines(require_file(root / "fine_label_names.txt", "class names", HINT))[:100]
    return RawDataset({TRAIN: _items([root / "train.bin"], 2, 1, 100, names),
                       VALIDATION: _items([root / "test.bin"], 2, 1, 100, names)},
                      names, storage="png")

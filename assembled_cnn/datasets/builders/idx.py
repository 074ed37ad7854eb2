"""MNIST and Fashion-MNIST in LeCun's IDX format, gzipped or not.

``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]`` and the ``t10k-`` pair;
t10k is the validation split. Images are stored losslessly as 1-channel PNG.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from assembled_cnn.datasets.builders.base import (TRAIN, VALIDATION, BuildConfig,
                                                  DatasetLayoutError, RawDataset, RawItem)

UBYTE = 0x08
FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                 "Sneaker", "Bag", "Ankle boot"]
DIGIT_NAMES = [str(d) for d in range(10)]
SEARCH_DIRS = ["", "data", "package/data", "fashion-mnist", "mnist",
               "usr/share/datasets/fashion-mnist"]


def find_idx_file(raw_dir: Path, stem: str) -> Path:
    for sub in SEARCH_DIRS:
        for name in (stem, f"{stem}.gz"):
            if (raw_dir / sub / name).is_file():
                return raw_dir / sub / name
    raise DatasetLayoutError(f"missing {stem}[.gz] under {raw_dir}; expected the four IDX files "
                             "(train-/t10k- images-idx3 and labels-idx1) there.")


def read_idx(path: Path) -> np.ndarray:
    """Parse one IDX file (big-endian header: 0, 0, dtype code, ndim, then ndim sizes)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as error:
        raise DatasetLayoutError(f"cannot read {path}: {error}") from error
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != UBYTE:
        raise DatasetLayoutError(f"{path} is not an unsigned-byte IDX file (bad magic number)")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(shape)):
        raise DatasetLayoutError(f"{path}: header says shape {shape} but the file holds "
                                 f"{len(data) - offset} values; it is truncated.")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)


def _split(raw_dir: Path, prefix: str, names: list[str]) -> list[RawItem]:
    images = read_idx(find_idx_file(raw_dir, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(find_idx_file(raw_dir, f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetLayoutError(f"{prefix} images {images.shape} and labels {labels.shape} under "
                                 f"{raw_dir} do not match.")
    if labels.max(initial=0) >= len(names):
        raise DatasetLayoutError(f"{prefix} labels under {raw_dir} exceed {len(names)} classes.")
    return [RawItem(images[i], int(labels[i]), filename=f"{prefix}_{i:05d}.png",
                    text=names[labels[i]]) for i in range(len(labels))]


def _read(raw_dir: Path, names: list[str]) -> RawDataset:
    return RawDataset({TRAIN: _split(raw_dir, "train", names),
                       VALIDATION: _split(raw_dir, "t10k", names)}, names, storage="png")


def read_mnist(raw_dir: Path, config: BuildConfig) -> RawDataset:
    return _read(raw_dir, DIGIT_NAMES)


def read_fashion_mnist(raw_dir: Path, config: BuildConfig) -> RawDataset:
    return _read(raw_dir, FASHION_NAMES)

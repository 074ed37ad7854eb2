"""Caltech-101: ``101_ObjectCategories/<class>/image_NNNN.jpg`` (no official split).

``BACKGROUND_Google`` is left out (101 classes, sorted folder names). The usual protocol
holds 30 random images per class for training and the rest for validation; the draw
is seeded, so it is the same on every machine. --validation_fraction > 0 overrides it.
"""

from __future__ import annotations

from pathlib import Path

from assembled_cnn.datasets.builders.base import (TRAIN, VALIDATION, BuildConfig, RawDataset,
                                                  RawItem, class_dirs, files_of_class,
                                                  split_per_class)

BACKGROUND = "BACKGROUND_Google"
TRAIN_PER_CLASS = 30


def read(raw_dir: Path, config: BuildConfig) -> RawDataset:
    root = raw_dir / "101_ObjectCategories"
    root = root if root.is_dir() else raw_dir
    folders = class_dirs(root, exclude=(BACKGROUND,))
    names = [d.name for d in folders]
    items = [RawItem(str(path), label, filename=path.name, synset=folder.name)
             for label, folder in enumerate(folders) for path in files_of_class(folder)]
    if config.validation_fraction > 0:
        train, validation = split_per_class(items, config.validation_fraction, config.seed)
    else:
        train, validation = split_per_class(items, 0.0, config.seed,
                                            per_class_train=TRAIN_PER_CLASS)
    return RawDataset({TRAIN: train, VALIDATION: validation}, names)

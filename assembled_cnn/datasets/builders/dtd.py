"""Describable Textures (DTD): ``images/<class>/*.jpg`` with ``labels/{train,val,test}N.txt``.

Split 1 of the ten official splits: train = train1 + val1 (3,760), validation = test1
(1,880). Labels are the sorted class folders (0..46).
"""

from __future__ import annotations

from pathlib import Path

from assembled_cnn.datasets.builders.base import (TRAIN, VALIDATION, BuildConfig,
                                                  DatasetLayoutError, RawDataset, RawItem,
                                                  class_dirs, find_root, read_lines, require_file)

SPLIT_INDEX = 1
HINT = "Extract dtd-r1.0.1.tar.gz and pass the dtd folder (or its parent) as --raw_dir."


def _list_items(root: Path, list_name: str, labels: dict[str, int]) -> list[RawItem]:
    path = require_file(root / "labels" / list_name, "split file", HINT)
    items = []
    for entry in read_lines(path):
        class_name = entry.split("/", 1)[0]
        if class_name not in labels:
            raise DatasetLayoutError(
                f"{path}: class {class_name!r} has no folder in {root / 'images'}")
        items.append(RawItem(str(root / "images" / entry), labels[class_name],
                             filename=Path(entry).name, synset=class_name))
    return items


def read(raw_dir: Path, config: BuildConfig) -> RawDataset:
    root = find_root(raw_dir, "labels", ["dtd"])
    names = [d.name for d in class_dirs(root / "images")]
    labels = {name: i for i, name in enumerate(names)}
    train = (_list_items(root, f"train{SPLIT_INDEX}.txt", labels)
             + _list_items(root, f"val{SPLIT_INDEX}.txt", labels))
    validation = _list_items(root, f"test{SPLIT_INDEX}.txt", labels)
    return RawDataset({TRAIN: train, VALIDATION: validation}, names)

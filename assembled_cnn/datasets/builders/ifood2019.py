"""iFood-2019 (FGVC6): ``train_set/`` and ``val_set/`` image folders with ``train_info.csv``
and ``val_info.csv`` (``image_name,label`` rows, labels 0..250) and ``class_list.txt``
(``<label> <name>`` rows; class names fall back to the label numbers without it).

The official test set has no labels; val_set is the validation split (118,475 / 11,994).
"""

from __future__ import annotations

from pathlib import Path

from assembled_cnn.datasets.builders.base import (TRAIN, VALIDATION, BuildConfig, DatasetLayoutError,
                                                  RawDataset, RawItem, find_root, read_lines, require_dir,
                                                  require_file)

HINT = "Extract train_set.tar, val_set.tar and annot.tar into one folder and pass it as --raw_dir."
NUM_CLASSES = 251


def _class_names(root: Path) -> list[str]:
    path = root / "class_list.txt"
    if not path.is_file():
        return [str(i) for i in range(NUM_CLASSES)]
    names = {}
    for line in read_lines(path):
        label, _, name = line.partition(" ")
        names[int(label)] = name.strip()
    if sorted(names) != list(range(len(names))):
        raise DatasetLayoutError(f"{path}: labels are not 0..{len(names) - 1} without gaps")
    return [names[i] for i in range(len(names))]


def _read_split(root: Path, csv_name: str, folder: str, names: list[str]) -> list[RawItem]:
    path = require_file(root / csv_name, "annotation file", HINT)
    images = require_dir(root / folder, "image folder", HINT)
    items = []
    for number, line in enumerate(read_lines(path), start=1):
        name, _, label = line.partition(",")
        if number == 1 and not label.strip().isdigit():
            continue  # a header row
        if not label.strip().isdigit() or int(label) >= len(names):
            raise DatasetLayoutError(f"{path}:{number}: expected 'image_name,label' with a label in "
                                     f"0..{len(names) - 1}, got {line!r}")
        items.append(RawItem(str(images / name.strip()), int(label), filename=name.strip(),
                             text=names[int(label)]))
    return items


def read(raw_dir: Path, config: BuildConfig) -> RawDataset:
    root = find_root(raw_dir, "train_info.csv", ["ifood2019", "annot"])
    names = _class_names(root)
    return RawDataset({TRAIN: _read_split(root, "train_info.csv", "train_set", names),
                       VALIDATION: _read_split(root, "val_info.csv", "val_set", names)}, names)

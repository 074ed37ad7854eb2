"""Stanford Online Products (SOP), the retrieval benchmark: ``Ebay_train.txt`` and
``Ebay_test.txt`` (header ``image_id class_id super_class_id path``) next to the
``<super_class>_final/<product>_<n>.JPG`` folders.

As the original build_sop.py: label = class_id - 1; Ebay_train.txt is the training split
(11,318 classes, 59,551 images) and Ebay_test.txt the validation split (the other 11,316
classes, labels 11,318..22,633, 60,502 images). The classes of the two splits are disjoint:
the validation split is for Recall@K (`--zeroshot_eval`), not for accuracy.
"""

from __future__ import annotations

from pathlib import Path

from assembled_cnn.datasets.builders.base import (TRAIN, VALIDATION, BuildConfig, DatasetLayoutError,
                                                  RawDataset, RawItem, find_root, read_lines, require_file)

HINT = "Extract Stanford_Online_Products.zip and pass that folder (or its parent) as --raw_dir."
HEADER = ["image_id", "class_id", "super_class_id", "path"]


def _class_name(relative: str) -> str:
    """`bicycle_final/111085122871_0.JPG` -> `bicycle/111085122871` (super class / product)."""
    folder, _, name = relative.partition("/")
    return f"{folder.removesuffix('_final')}/{name.rsplit('_', 1)[0]}"


def _read_list(root: Path, list_name: str, names: dict[int, str]) -> list[RawItem]:
    path = require_file(root / list_name, "split file", HINT)
    lines = read_lines(path)
    if not lines or lines[0].split() != HEADER:
        raise DatasetLayoutError(f"{path}: expected the header line {' '.join(HEADER)!r}")
    items = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split()
        if len(fields) != 4 or not fields[1].isdigit():
            raise DatasetLayoutError(f"{path}:{number}: expected 'image_id class_id super_class_id path', got {line!r}")
        label, relative = int(fields[1]) - 1, fields[3]
        names.setdefault(label, _class_name(relative))
        items.append(RawItem(str(root / relative), label, filename=Path(relative).name, synset=names[label]))
    return items


def read(raw_dir: Path, config: BuildConfig) -> RawDataset:
    root = find_root(raw_dir, "Ebay_train.txt", ["Stanford_Online_Products"])
    names: dict[int, str] = {}
    splits = {TRAIN: _read_list(root, "Ebay_train.txt", names), VALIDATION: _read_list(root, "Ebay_test.txt", names)}
    if sorted(names) != list(range(len(names))):
        raise DatasetLayoutError(f"{root}: class ids are not 1..{len(names)} without gaps")
    return RawDataset(splits, [names[i] for i in range(len(names))],
                      notes={"split": "retrieval: train and validation classes are disjoint"})

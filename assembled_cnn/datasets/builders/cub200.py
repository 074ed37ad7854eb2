"""CUB-200-2011: ``images/<NNN.Name>/*.jpg`` with ``images.txt``, ``classes.txt``,
``image_class_labels.txt``, ``train_test_split.txt`` and ``bounding_boxes.txt`` (x y w h).

``read``: the standard classification split, label = class_id - 1 (0..199), 5,994/5,794.
``read_zeroshot``: the original retrieval split (Song et al. 2016): classes 0..99 train,
100..199 validation, labels not re-based (5,864/5,924); with ``crop_to_bbox`` each image is its
bounding-box crop, as the original's option.
"""

from __future__ import annotations

from pathlib import Path

from assembled_cnn.datasets.builders.base import (TRAIN, VALIDATION, BuildConfig,
                                                  DatasetLayoutError, RawDataset, RawItem,
                                                  crop_to_first_box, find_root, read_lines, require_file)

HINT = "Extract CUB_200_2011.tgz and pass the CUB_200_2011 folder (or its parent) as --raw_dir."
ZERO_SHOT_TRAIN_CLASSES = 100


def _table(root: Path, name: str) -> dict[int, list[str]]:
    path = require_file(root / name, "annotation file", HINT)
    table = {}
    for line in read_lines(path):
        fields = line.split()
        table[int(fields[0])] = fields[1:]
    return table


def _all_items(root: Path) -> tuple[list[tuple[RawItem, bool]], list[str]]:
    """Every image with its official is-train flag, and class names in id order."""
    classes = _table(root, "classes.txt")
    names = [classes[i][0] for i in sorted(classes)]
    paths, labels = _table(root, "images.txt"), _table(root, "image_class_labels.txt")
    is_train = _table(root, "train_test_split.txt")
    boxes = _table(root, "bounding_boxes.txt") if (root / "bounding_boxes.txt").is_file() else {}
    items = []
    for image_id in sorted(paths):
        if image_id not in labels or image_id not in is_train:
            raise DatasetLayoutError(
                f"image id {image_id} of {root / 'images.txt'} has no label or split entry; "
                "the annotation files do not match.")
        label = int(labels[image_id][0]) - 1
        box = None
        if image_id in boxes:
            x, y, w, h = (float(v) for v in boxes[image_id])
            box = [(x, y, x + w, y + h)]
        relative = paths[image_id][0]
        item = RawItem(str(root / "images" / relative), label, filename=Path(relative).name,
                       synset=names[label], bboxes_pixels=box)
        items.append((item, is_train[image_id][0] == "1"))
    return items, names


def read(raw_dir: Path, config: BuildConfig) -> RawDataset:
    items, names = _all_items(find_root(raw_dir, "images.txt", ["CUB_200_2011"]))
    return RawDataset({TRAIN: [i for i, train in items if train],
                       VALIDATION: [i for i, train in items if not train]}, names)


def read_zeroshot(raw_dir: Path, config: BuildConfig) -> RawDataset:
    items, names = _all_items(find_root(raw_dir, "images.txt", ["CUB_200_2011"]))
    if config.crop_to_bbox:
        crop_to_first_box([item for item, _ in items])
    return RawDataset({TRAIN: [i for i, _ in items if i.label < ZERO_SHOT_TRAIN_CLASSES],
                       VALIDATION: [i for i, _ in items if i.label >= ZERO_SHOT_TRAIN_CLASSES]},
                      names, notes={"split": "zero-shot: classes 0..99 train, 100..199 validation"})

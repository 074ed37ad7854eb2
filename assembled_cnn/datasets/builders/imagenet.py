"""ILSVRC-2012: ``train/<synset>/*.JPEG`` and a validation set, labels 1..1000 (0 = background).

Validation may be re-organised into ``validation/<synset>/`` (or ``val/``) or left flat
with ``imagenet_2012_validation_synset_labels.txt`` (one synset per sorted file name).
Optional files in raw_dir, as in the original tools: ``imagenet_lsvrc_2015_synsets.txt``
(label order; otherwise sorted synsets), ``imagenet_metadata.txt`` (human-readable text)
and ``imagenet_2012_bounding_boxes.csv`` (``file,xmin,ymin,xmax,ymax`` relative).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from assembled_cnn.datasets.builders.base import (TRAIN, VALIDATION, BuildConfig,
                                                  DatasetLayoutError, RawDataset, RawItem,
                                                  class_dirs, files_of_class, list_files,
                                                  read_lines, require_dir, require_file)

SYNSETS_FILE = "imagenet_lsvrc_2015_synsets.txt"
METADATA_FILE = "imagenet_metadata.txt"
BBOX_FILE = "imagenet_2012_bounding_boxes.csv"
VALIDATION_LABELS_FILE = "imagenet_2012_validation_synset_labels.txt"
BACKGROUND_LABELS = 1


def _synsets(raw_dir: Path, train_root: Path) -> list[str]:
    if (raw_dir / SYNSETS_FILE).is_file():
        return read_lines(raw_dir / SYNSETS_FILE)
    return [d.name for d in class_dirs(train_root)]


def _texts(raw_dir: Path) -> dict[str, str]:
    if not (raw_dir / METADATA_FILE).is_file():
        return {}
    pairs = (line.split("\t", 1) for line in read_lines(raw_dir / METADATA_FILE))
    return {p[0].strip(): p[1].strip() for p in pairs if len(p) == 2}


def _bboxes(raw_dir: Path) -> dict[str, list[tuple[float, float, float, float]]]:
    boxes: dict[str, list] = defaultdict(list)
    if (raw_dir / BBOX_FILE).is_file():
        with open(raw_dir / BBOX_FILE, newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                if len(row) == 5:
                    xmin, ymin, xmax, ymax = (float(v) for v in row[1:])
                    boxes[row[0].strip()].append((ymin, xmin, ymax, xmax))
    return boxes


def _validation_pairs(raw_dir: Path) -> list[tuple[Path, str]]:
    """(file, synset) for the validation images, in either supported layout."""
    for name in (VALIDATION, "val"):
        root = raw_dir / name
        if root.is_dir() and any(p.is_dir() for p in root.iterdir()):
            return [(f, d.name) for d in class_dirs(root) for f in files_of_class(d)]
        if root.is_dir():
            labels_path = require_file(
                raw_dir / VALIDATION_LABELS_FILE, "validation labels",
                f"{root} is flat; put {VALIDATION_LABELS_FILE} (50,000 synsets, one per sorted "
                "file name) in --raw_dir or re-organise validation into <synset>/ folders.")
            files, synsets = list_files(root), read_lines(labels_path)
            if len(files) != len(synsets):
                raise DatasetLayoutError(
                    f"{labels_path} has {len(synsets)} labels but {root} has {len(files)} files.")
            return list(zip(files, synsets))
    return []


def read(raw_dir: Path, config: BuildConfig) -> RawDataset:
    train_root = require_dir(raw_dir / TRAIN, "ImageNet training tree",
                             "Expected --raw_dir/train/<synset>/*.JPEG.")
    synsets = _synsets(raw_dir, train_root)
    labels = {s: i + BACKGROUND_LABELS for i, s in enumerate(synsets)}
    texts, boxes = _texts(raw_dir), _bboxes(raw_dir)

    def item(path: Path, synset: str) -> RawItem:
        if synset not in labels:
            raise DatasetLayoutError(f"{path}: synset {synset!r} is not in the label list "
                                     f"({SYNSETS_FILE} or the train/ folders).")
        return RawItem(str(path), labels[synset], filename=path.name, synset=synset,
                       text=texts.get(synset, ""), bboxes_relative=boxes.get(path.name) or None)

    train = [item(f, d.name) for d in class_dirs(train_root) for f in files_of_class(d)]
    validation = [item(f, s) for f, s in _validation_pairs(raw_dir)]
    return RawDataset({TRAIN: train, VALIDATION: validation}, synsets,
                      label_offset=BACKGROUND_LABELS,
                      class_texts=[texts.get(s, "") for s in synsets] if texts else None)

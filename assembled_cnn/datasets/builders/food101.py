"""ETH Food-101: ``images/<class>/<id>.jpg`` with ``meta/classes.txt``, ``train.txt``, ``test.txt``.

Labels follow the official ``meta/classes.txt`` order (0..100); test.txt is validation.
"""

from __future__ import annotations

from pathlib import Path

from assembled_cnn.datasets.builders.base import (TRAIN, VALIDATION, BuildConfig,
                                                  DatasetLayoutError, RawDataset, RawItem,
                                                  find_root, read_lines, require_file)

HINT = "Extract food-101.tar.gz and pass the food-101 folder (or its parent) as --raw_dir."


def _split_items(root: Path, list_name: str, labels: dict[str, int],
                 texts: list[str]) -> list[RawItem]:
    list_path = require_file(root / "meta" / list_name, "split file", HINT)
    items = []
    for entry in read_lines(list_path):
        class_name = entry.split("/", 1)[0]
        if class_name not in labels:
            raise DatasetLayoutError(f"{list_path}: class {class_name!r} of {entry!r} is not in "
                                     "meta/classes.txt.")
        path = root / "images" / f"{entry}.jpg"
        label = labels[class_name]
        items.append(RawItem(str(path), label, filename=path.name, synset=class_name,
                             text=texts[label]))
    return items


def read(raw_dir: Path, config: BuildConfig) -> RawDataset:
    root = find_root(raw_dir, "meta", ["food-101"])
    classes = read_lines(require_file(root / "meta" / "classes.txt", "class list", HINT))
    labels_txt = root / "meta" / "labels.txt"
    texts = read_lines(labels_txt) if labels_txt.is_file() else list(classes)
    if len(texts) != len(classes):
        texts = list(classes)
    labels = {name: i for i, name in enumerate(classes)}
    return RawDataset({TRAIN: _split_items(root, "train.txt", labels, texts),
                       VALIDATION: _split_items(root, "test.txt", labels, texts)},
                      classes, class_texts=texts)

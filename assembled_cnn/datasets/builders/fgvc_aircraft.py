"""FGVC-Aircraft 2013b at the variant level: ``data/images/<id>.jpg`` and ``data/*.txt``.

Labels follow ``data/variants.txt`` (0..99); train = trainval (train + val), validation =
test, as in the original build_fgvc_aircraft.py. ``images_box.txt`` boxes are kept.
"""

from __future__ import annotations

from pathlib import Path

from assembled_cnn.datasets.builders.base import (TRAIN, VALIDATION, BuildConfig,
                                                  DatasetLayoutError, RawDataset, RawItem,
                                                  find_root, read_lines, require_file)

HINT = "Extract fgvc-aircraft-2013b.tar.gz and pass the folder (or its parent) as --raw_dir."


def _boxes(data: Path) -> dict[str, tuple[float, float, float, float]]:
    path = data / "images_box.txt"
    if not path.is_file():
        return {}
    parts = (line.split() for line in read_lines(path))
    return {p[0]: tuple(float(v) for v in p[1:5]) for p in parts if len(p) == 5}


def _list_items(data: Path, list_name: str, labels: dict[str, int],
                boxes: dict) -> list[RawItem]:
    path = require_file(data / list_name, "split file", HINT)
    items = []
    for line in read_lines(path):
        image_id, _, variant = line.partition(" ")
        if variant.strip() not in labels:
            raise DatasetLayoutError(f"{path}: variant {variant!r} is not in variants.txt")
        box = boxes.get(image_id)
        items.append(RawItem(str(data / "images" / f"{image_id}.jpg"), labels[variant.strip()],
                             filename=f"{image_id}.jpg", text=variant.strip(),
                             bboxes_pixels=[box] if box else None))
    return items


def read(raw_dir: Path, config: BuildConfig) -> RawDataset:
    root = find_root(raw_dir, "data/variants.txt", ["fgvc-aircraft-2013b"])
    data = root / "data"
    variants = read_lines(data / "variants.txt")
    labels = {name: i for i, name in enumerate(variants)}
    boxes = _boxes(data)
    train = (_list_items(data, "images_variant_train.txt", labels, boxes)
             + _list_items(data, "images_variant_val.txt", labels, boxes))
    validation = _list_items(data, "images_variant_test.txt", labels, boxes)
    return RawDataset({TRAIN: train, VALIDATION: validation}, variants)

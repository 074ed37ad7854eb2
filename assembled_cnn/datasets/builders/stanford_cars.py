"""Stanford Cars (cars196): ``car_ims/*.jpg`` with ``cars_annos.mat``.

Label = class - 1 (0..195) and the split is the ``test`` flag, as in the original
build_cars196.py; the bounding box is stored in the record (the original parsed
--use_bbox but never passed it on).

``read_zeroshot``: the original build_cars196_zeroshot.py split: classes 0..97 train,
98..195 validation, labels not re-based (8,054 / 8,131); ``crop_to_bbox`` stores the
bounding-box crops, as the original's option.
"""

from __future__ import annotations

from pathlib import Path

from assembled_cnn.datasets.builders.base import (TRAIN, VALIDATION, BuildConfig,
                                                  DatasetLayoutError, RawDataset, RawItem,
                                                  crop_to_first_box, find_root)
from assembled_cnn.datasets.builders.matfile import load_mat

ANNOTATIONS = "cars_annos.mat"
ZERO_SHOT_TRAIN_CLASSES = 98


def _class_names(mat: dict) -> list[str]:
    return [str(name).strip() for name in list(mat["class_names"].ravel())]


def read(raw_dir: Path, config: BuildConfig) -> RawDataset:
    root = find_root(raw_dir, ANNOTATIONS, ["cars196", "stanford_cars"])
    if not (root / "car_ims").is_dir():
        archive = root / "car_ims.tgz"
        hint = (f"extract it first: tar xzf {archive} -C {root}" if archive.is_file()
                else "download car_ims.tgz and extract it there")
        raise DatasetLayoutError(f"missing image folder {root / 'car_ims'}; {hint}.")
    mat = load_mat(root / ANNOTATIONS)
    names = _class_names(mat)
    splits: dict[str, list[RawItem]] = {TRAIN: [], VALIDATION: []}
    for record in mat["annotations"].ravel():
        class_id = int(record["class"])
        if not 1 <= class_id <= len(names):
            raise DatasetLayoutError(
                f"{root / ANNOTATIONS}: class {class_id} outside 1..{len(names)}")
        relative = str(record["relative_im_path"]).strip()
        box = tuple(float(record[k]) for k in ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2"))
        item = RawItem(str(root / relative), class_id - 1, filename=Path(relative).name,
                       text=names[class_id - 1], bboxes_pixels=[box])
        splits[VALIDATION if int(record["test"]) else TRAIN].append(item)
    return RawDataset(splits, names)


def read_zeroshot(raw_dir: Path, config: BuildConfig) -> RawDataset:
    full = read(raw_dir, config)
    items = full.splits[TRAIN] + full.splits[VALIDATION]
    items.sort(key=lambda item: item.filename)  # the annotation order, whatever the official split
    if config.crop_to_bbox:
        crop_to_first_box(items)
    return RawDataset({TRAIN: [i for i in items if i.label < ZERO_SHOT_TRAIN_CLASSES],
                       VALIDATION: [i for i in items if i.label >= ZERO_SHOT_TRAIN_CLASSES]}, full.class_names,
                      notes={"split": "zero-shot: classes 0..97 train, 98..195 validation"})

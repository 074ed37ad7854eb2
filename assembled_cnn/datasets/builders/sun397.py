"""SUN397: ``SUN397/<letter>/<class>[/<sub>]/*.jpg`` with the official Partitions.

``ClassName.txt``, ``Training_01.txt`` and ``Testing_01.txt`` (from Partitions.zip) may be
in --raw_dir, in ``Partitions/`` or in the SUN397 folder. Labels follow ClassName.txt
order (0..396); train = Training_01 (19,850), validation = Testing_01 (19,850).
"""

from __future__ import annotations

from pathlib import Path

from assembled_cnn.datasets.builders.base import (TRAIN, VALIDATION, BuildConfig,
                                                  DatasetLayoutError, RawDataset, RawItem,
                                                  read_lines)

PARTITION = "01"
HINT = ("Download Partitions.zip from the SUN397 page and extract it into --raw_dir "
        "(ClassName.txt, Training_01.txt, Testing_01.txt).")


def _find(raw_dir: Path, name: str) -> Path:
    for folder in (raw_dir, raw_dir / "Partitions", raw_dir / "SUN397",
                   raw_dir / "SUN397" / "Partitions"):
        if (folder / name).is_file():
            return folder / name
    raise DatasetLayoutError(f"missing {name} under {raw_dir}. {HINT}")


def _class_key(entry: str) -> str:
    """'/a/abbey/sun_x.jpg' -> 'abbey'; '/b/bakery/shop/sun_y.jpg' -> 'bakery/shop'."""
    return "/".join(entry.strip("/").split("/")[1:-1])


def read(raw_dir: Path, config: BuildConfig) -> RawDataset:
    class_paths = read_lines(_find(raw_dir, "ClassName.txt"))
    names = ["/".join(p.strip("/").split("/")[1:]) for p in class_paths]
    labels = {name: i for i, name in enumerate(names)}
    image_root = raw_dir / "SUN397" if (raw_dir / "SUN397").is_dir() else raw_dir
    splits = {}
    for split, list_name in ((TRAIN, f"Training_{PARTITION}.txt"),
                             (VALIDATION, f"Testing_{PARTITION}.txt")):
        list_path, items = _find(raw_dir, list_name), []
        for entry in read_lines(list_path):
            key = _class_key(entry)
            if key not in labels:
                raise DatasetLayoutError(f"{list_path}: class {key!r} is not in ClassName.txt")
            items.append(RawItem(str(image_root / entry.lstrip("/")), labels[key],
                                 filename=Path(entry).name, synset=key))
        splits[split] = items
    return RawDataset(splits, names)

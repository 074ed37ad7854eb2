"""Oxford-IIIT Pet: ``images/<Breed>_<n>.jpg`` with ``annotations/trainval.txt`` / ``test.txt``.

Label = CLASS-ID - 1 (0..36); the breed name is the image name without its number.
"""

from __future__ import annotations

from pathlib import Path

from assembled_cnn.datasets.builders.base import (TRAIN, VALIDATION, BuildConfig,
                                                  DatasetLayoutError, RawDataset, RawItem,
                                                  find_root, read_lines, require_dir,
                                                  require_file)

HINT = "Extract images.tar.gz and annotations.tar.gz into the same --raw_dir."


def _entries(root: Path, list_name: str) -> list[tuple[str, int]]:
    path = require_file(root / "annotations" / list_name, "split file", HINT)
    entries = []
    for line in read_lines(path):
        fields = line.split()
        if len(fields) < 2:
            raise DatasetLayoutError(
                f"{path}: malformed line {line!r}; expected 'NAME CLASS-ID SPECIES BREED-ID'")
        entries.append((fields[0], int(fields[1])))
    return entries


def read(raw_dir: Path, config: BuildConfig) -> RawDataset:
    root = find_root(raw_dir, "annotations", ["oxford-iiit-pet"])
    images = require_dir(root / "images", "image folder", HINT)
    lists = {TRAIN: _entries(root, "trainval.txt"), VALIDATION: _entries(root, "test.txt")}
    breed_of: dict[int, str] = {}
    for entries in lists.values():
        for image_name, class_id in entries:
            breed_of.setdefault(class_id, image_name.rsplit("_", 1)[0])
    if sorted(breed_of) != list(range(1, len(breed_of) + 1)):
        raise DatasetLayoutError(
            f"class ids in {root / 'annotations'} are not 1..N: {sorted(breed_of)}")
    names = [breed_of[i] for i in range(1, len(breed_of) + 1)]
    splits = {split: [RawItem(str(images / f"{n}.jpg"), c - 1, filename=f"{n}.jpg",
                              text=names[c - 1]) for n, c in entries]
              for split, entries in lists.items()}
    return RawDataset(splits, names)

"""Types and helpers shared by the per-layout readers.

A reader only understands one official raw layout and returns a :class:`RawDataset`
(items per split plus the label map); decoding, re-encoding and sharding live in
the shared writer so every dataset gets the same bad-input handling.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence, Union

import numpy as np

from assembled_cnn.errors import UserError

# A path on disk, the encoded file bytes, or raw HxW / HxWxC uint8 pixels.
ImageSource = Union[str, bytes, np.ndarray]

TRAIN = "train"
VALIDATION = "validation"
SPLITS = (TRAIN, VALIDATION)


class DatasetLayoutError(UserError):
    """The raw directory does not look like the official layout (message says what to do)."""


@dataclass
class RawItem:
    """One image before encoding: where its pixels are, its record label and metadata."""

    source: ImageSource
    label: int
    filename: str = ""
    synset: str = ""
    text: str = ""
    # (ymin, xmin, ymax, xmax) relative to the image size.
    bboxes_relative: list[tuple[float, float, float, float]] | None = None
    # (xmin, ymin, xmax, ymax) in pixels; the writer normalises them by the decoded size.
    bboxes_pixels: list[tuple[float, float, float, float]] | None = None
    # (xmin, ymin, xmax, ymax) in pixels: the writer stores only this crop (re-encoded).
    crop_pixels: tuple[float, float, float, float] | None = None


@dataclass
class RawDataset:
    """What a reader found: items per split and names for labels label_offset.. ."""

    splits: dict[str, list[RawItem]]
    class_names: list[str]
    label_offset: int = 0
    # 'jpeg': everything becomes RGB JPEG; 'png': lossless PNG keeping the channel count.
    storage: str = "jpeg"
    class_texts: list[str] | None = None
    notes: dict[str, str] = field(default_factory=dict)

    def label_map(self) -> dict[int, str]:
        return {i + self.label_offset: name for i, name in enumerate(self.class_names)}


@dataclass(frozen=True)
class BuildConfig:
    """Options every reader may use; only imagefolder/caltech101 split by fraction."""

    validation_fraction: float = 0.0
    seed: int = 12345
    crop_to_bbox: bool = False  # zero-shot CUB/Cars: store the bounding-box crop (the original's option)


def require_file(path: Path, what: str, hint: str) -> Path:
    if not path.is_file():
        raise DatasetLayoutError(f"missing {what}: {path} does not exist. {hint}")
    return path


def require_dir(path: Path, what: str, hint: str) -> Path:
    if not path.is_dir():
        raise DatasetLayoutError(f"missing {what}: directory {path} does not exist. {hint}")
    return path


def find_root(raw_dir: Path, marker: str, subdirs: Sequence[str]) -> Path:
    """Accept either the dataset folder itself or its parent (as extracted from the archive)."""
    for candidate in [raw_dir, *(raw_dir / s for s in subdirs)]:
        if (candidate / marker).exists():
            return candidate
    tried = ", ".join(str(c / marker) for c in [raw_dir, *(raw_dir / s for s in subdirs)])
    raise DatasetLayoutError(
        f"{raw_dir} is not the expected layout: none of {tried} exists. "
        "Pass --raw_dir pointing at the extracted official archive.")


def read_lines(path: Path) -> list[str]:
    """Non-empty, stripped lines without '#' comments."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def list_files(directory: Path) -> list[Path]:
    """Sorted regular, non-hidden files (candidate images; bad ones are skipped later)."""
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))


def class_dirs(root: Path, exclude: Sequence[str] = ()) -> list[Path]:
    dirs = sorted(p for p in root.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and p.name not in exclude)
    if not dirs:
        raise DatasetLayoutError(
            f"no class sub-directories in {root}; expected one folder per class with images in it.")
    return dirs


def files_of_class(directory: Path) -> list[Path]:
    files = list_files(directory)
    if not files:
        raise DatasetLayoutError(
            f"class directory {directory} is empty; add its images or delete the folder.")
    return files


def crop_to_first_box(items: list[RawItem]) -> list[RawItem]:
    """Items that the writer crops to their first pixel bounding box (the box is then the image)."""
    for item in items:
        if item.bboxes_pixels:
            item.crop_pixels, item.bboxes_pixels = tuple(item.bboxes_pixels[0]), None
    return items


def split_per_class(items: list[RawItem], fraction: float, seed: int,
                    per_class_train: int | None = None) -> tuple[list[RawItem], list[RawItem]]:
    """Deterministic per-class split: a fraction (or a fixed count) of each class to train."""
    by_label: dict[int, list[RawItem]] = defaultdict(list)
    for item in items:
        by_label[item.label].append(item)
    train, validation = [], []
    for label in sorted(by_label):
        group = list(by_label[label])
        random.Random(seed + label).shuffle(group)
        if per_class_train is not None:
            n_val = max(0, len(group) - per_class_train)
        else:
            n_val = int(round(len(group) * fraction))
            if fraction > 0 and len(group) > 1:
                n_val = min(max(n_val, 1), len(group) - 1)
        validation.extend(group[len(group) - n_val:])
        train.extend(group[:len(group) - n_val])
    return train, validation

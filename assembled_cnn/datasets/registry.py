"""What the training code needs to know about a dataset, by name (the old data_config.py).

``label_offset`` is what the input pipeline subtracts from the stored
``image/class/label`` to get the model's class index: ImageNet records keep the
original 1..1000 labels with 0 as background, so ``imagenet`` (1001 classes) uses
them as they are and ``imagenet1k`` (1000 classes) subtracts 1.

A name that is not registered (or ``imagefolder``) is described by the
``dataset_info.json`` that the builder wrote into ``data_dir``. For registered
names, the split sizes found in that file (when present) replace the nominal ones,
so epoch lengths match the records actually written.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from assembled_cnn.errors import UserError

INFO_FILE = "dataset_info.json"
TOP1 = "top1"
MEAN_PER_CLASS = "mean_per_class"


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    num_classes: int
    train_size: int
    validation_size: int
    label_offset: int = 0
    image_size: int = 224
    image_channels: int = 3
    primary_metric: str = TOP1  # 'top1' or 'mean_per_class'
    shuffle_buffer: int = 1000
    num_train_files: int = 128
    num_validation_files: int = 16
    image_format: str = "JPEG"


def _entry(name: str, num_classes: int, train: int, validation: int, **extra) -> DatasetInfo:
    return DatasetInfo(name, num_classes, train, validation, **extra)


_IMAGENET = dict(shuffle_buffer=10000, num_train_files=1024, num_validation_files=128)
_DIGITS = dict(image_size=28, image_channels=1, image_format="PNG", shuffle_buffer=10000)
_CIFAR = dict(image_size=32, image_format="PNG", shuffle_buffer=10000)

_REGISTRY: dict[str, DatasetInfo] = {info.name: info for info in [
    _entry("imagenet", 1001, 1_281_167, 50_000, **_IMAGENET),
    _entry("imagenet1k", 1000, 1_281_167, 50_000, label_offset=1, **_IMAGENET),
    _entry("food101", 101, 75_750, 25_250),
    _entry("stanford_cars", 196, 8_144, 8_041),
    _entry("fgvc_aircraft", 100, 6_667, 3_333, primary_metric=MEAN_PER_CLASS),
    _entry("oxford_iiit_pet", 37, 3_680, 3_669, primary_metric=MEAN_PER_CLASS),
    _entry("oxford_flowers102", 102, 2_040, 6_149, primary_metric=MEAN_PER_CLASS),
    _entry("cub200", 200, 5_994, 5_794),
    # The original `cub_200_2011` key: zero-shot retrieval split, 100 train classes.
    _entry("cub200_zeroshot", 100, 5_864, 5_924, shuffle_buffer=100, num_train_files=100),
    # Retrieval (zero-shot) splits: validation classes are not training classes, as the original.
    _entry("cars196_zeroshot", 196, 8_054, 8_131, num_validation_files=128),
    _entry("sop", 11_318, 59_551, 60_502, shuffle_buffer=50_000),
    _entry("ifood2019", 251, 118_475, 11_994),
    _entry("dtd", 47, 3_760, 1_880),
    _entry("caltech101", 101, 3_030, 5_647, primary_metric=MEAN_PER_CLASS),
    _entry("sun397", 397, 19_850, 19_850),
    _entry("cifar10", 10, 50_000, 10_000, **_CIFAR),
    _entry("cifar100", 100, 50_000, 10_000, **_CIFAR),
    _entry("mnist", 10, 60_000, 10_000, **_DIGITS),
    _entry("fashion_mnist", 10, 60_000, 10_000, **_DIGITS),
]}

ALIASES = {"cars196": "stanford_cars", "cub_200_2011": "cub200", "SOP": "sop", "iFood2019": "ifood2019"}
DESCRIBED_BY_FILE = {"imagefolder"}


class UnknownDatasetError(UserError, KeyError):
    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0])


def known_names() -> list[str]:
    return sorted([*_REGISTRY, *ALIASES, *DESCRIBED_BY_FILE])


def read_info_file(data_dir: str | Path) -> dict | None:
    path = Path(data_dir) / INFO_FILE
    if not path.is_file():
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _split_size(payload: dict, split: str) -> int:
    return int(payload.get("splits", {}).get(split, {}).get("num_records", 0))


def info_from_file(name: str, payload: dict) -> DatasetInfo:
    """A DatasetInfo for a dataset known only through its builder's dataset_info.json."""
    train_size = _split_size(payload, "train")
    return DatasetInfo(
        name=name, num_classes=int(payload["num_classes"]), train_size=train_size,
        validation_size=_split_size(payload, "validation"),
        image_channels=int(payload.get("channels", 3)),
        image_format=str(payload.get("image_format", "JPEG")),
        shuffle_buffer=max(1, min(10000, train_size)),
        num_train_files=int(payload.get("splits", {}).get("train", {}).get("num_shards", 1)),
        num_validation_files=int(
            payload.get("splits", {}).get("validation", {}).get("num_shards", 1)))


def get_dataset_info(name: str, data_dir: str | Path | None = None) -> DatasetInfo:
    """Registry entry for `name` (sizes refreshed from data_dir/dataset_info.json if present)."""
    key = ALIASES.get(name, name)
    payload = read_info_file(data_dir) if data_dir is not None else None
    if key in _REGISTRY:
        info = _REGISTRY[key]
        if payload is None:
            return info
        return dataclasses.replace(info, train_size=_split_size(payload, "train"),
                                   validation_size=_split_size(payload, "validation"))
    if payload is not None:
        return info_from_file(key, payload)
    where = (f"and {Path(data_dir) / INFO_FILE} does not exist" if data_dir is not None
             else "and no data_dir was given")
    raise UnknownDatasetError(
        f"unknown dataset {name!r} {where}. Known names: {', '.join(known_names())}. "
        "For your own data, build it with `python -m assembled_cnn.datasets.build "
        "--dataset=imagefolder ...` and pass its output directory as data_dir.")

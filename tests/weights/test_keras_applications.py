"""keras.applications MobileNet v1/v2 weight files (legacy .h5, as downloaded) onto our MobileNets,
checked against keras.applications' own network."""

import h5py
import keras
import numpy as np
import pytest
from keras.src.legacy.saving.legacy_h5_format import save_weights_to_hdf5_group

from assembled_cnn.nets import build_model
from assembled_cnn.weights.keras_import import load_keras_application_weights
from assembled_cnn.weights.torch_import import TorchImportError

CASES = {"mobilenet_v1": ("MobileNet", 0.25), "mobilenet_v2": ("MobileNetV2", 0.35)}


def _randomised_application(name, rng, classes=7):
    application, alpha = CASES[name]
    source = getattr(keras.applications, application)(input_shape=(64, 64, 3), alpha=alpha, weights=None,
                                                      classes=classes, classifier_activation=None)
    for var in source.weights:  # random BN statistics and biases too, so that a wrong map shows
        low = 0.5 if var.name in ("moving_variance", "gamma") else -0.3
        var.assign(rng.uniform(low, low + 1.0, var.shape).astype("float32") if var.name != "kernel"
                   else var.numpy())
    return source


def _write_legacy_h5(model, path):
    with h5py.File(path, "w") as handle:
        save_weights_to_hdf5_group(handle, model)


@pytest.mark.parametrize("name", sorted(CASES))
def test_import_equals_keras_applications(tmp_path, name):
    rng = np.random.default_rng(0)
    source = _randomised_application(name, rng)
    path = tmp_path / f"{name}.h5"
    _write_legacy_h5(source, path)
    ours = build_model(name, width_multiplier=CASES[name][1], num_classes=7, bn_epsilon=1e-3, conv_padding="same")
    report = load_keras_application_weights(ours, str(path))
    assert not report.missing and not report.unexpected and not report.notes
    images = rng.uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    expected = source(images, training=False).numpy()
    np.testing.assert_allclose(ours(images, training=False).numpy(), expected, rtol=1e-4,
                               atol=1e-4 * np.abs(expected).max())


def test_fresh_head_and_errors(tmp_path):
    source = _randomised_application("mobilenet_v2", np.random.default_rng(1), classes=1000)
    path = tmp_path / "v2.h5"
    _write_legacy_h5(source, path)
    ours = build_model("mobilenet_v2", width_multiplier=0.35, num_classes=5)
    report = load_keras_application_weights(ours, str(path), skip_head=True)
    assert [n for n, _ in report.missing] == ["logits/kernel", "logits/bias"] and report.notes
    with pytest.raises(TorchImportError, match="not a keras.applications MobileNetV2 weights file for alpha=0.5"):
        load_keras_application_weights(build_model("mobilenet_v2", width_multiplier=0.5, num_classes=5), str(path))

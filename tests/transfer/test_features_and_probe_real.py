"""Features of a briefly trained network on real Fashion-MNIST; the probe matches scikit-learn."""

import numpy as np
import pytest
import tensorflow as tf
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from assembled_cnn.datasets import schema
from assembled_cnn.model_dir import save_model_checkpoint, save_model_config
from assembled_cnn.nets import model_info
from assembled_cnn.preprocessing import preprocess_image
from assembled_cnn.transfer import accuracy, extract_features, feature_model, fit_linear_probe
from transfer_testlib import PRESET, load_fashion_mnist, train_briefly, write_records

NUM_TRAIN, NUM_VAL, NUM_TEST = 1500, 500, 500


@pytest.fixture(autouse=True)
def single_threaded_blas():
    """The scikit-learn references too: threaded OpenBLAS crawls on a busy 2-core machine."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    (train_x, train_y), (test_x, test_y), is_real = load_fashion_mnist(NUM_TRAIN + NUM_VAL,
                                                                       NUM_TEST)
    folder = tmp_path_factory.mktemp("fashion")
    write_records(folder / "train-00000-of-00002", train_x[:1000], train_y[:1000])
    write_records(folder / "train-00001-of-00002", train_x[1000:], train_y[1000:])
    write_records(folder / "validation-00000-of-00001", test_x, test_y)
    model = train_briefly(train_x, train_y, steps=12)
    train_features, train_labels = extract_features(model, str(folder), PRESET, batch_size=250)
    test_features, test_labels = extract_features(model, str(folder), PRESET, batch_size=250,
                                                  pattern="validation-*")
    return dict(folder=folder, model=model, is_real=is_real, train_y=train_y, test_y=test_y,
                train=(train_features, train_labels), test=(test_features, test_labels))


def test_features_come_from_the_features_layer_in_file_order(real):
    features, labels = real["train"]
    assert features.shape == (NUM_TRAIN + NUM_VAL, 64) and features.dtype == np.float32
    np.testing.assert_array_equal(labels, real["train_y"])
    records = [r for r in tf.data.TFRecordDataset(str(real["folder"] / "train-00000-of-00002"))]
    images = tf.stack([preprocess_image(schema.parse_example(r)["image_bytes"], False, PRESET)
                       for r in records[:5]])
    direct = feature_model(real["model"])(images, training=False).numpy()
    np.testing.assert_allclose(features[:5], direct, rtol=1e-4, atol=1e-4)


def test_feature_sources_model_dir_files_datasets_offset(real, tmp_path):
    model_dir = tmp_path / "m"
    save_model_config(str(model_dir), model_info(real["model"]).config)
    save_model_checkpoint(str(model_dir), real["model"])
    path = str(real["folder"] / "validation-00000-of-00001")
    from_dir, labels = extract_features(str(model_dir), [path], PRESET, max_examples=7)
    from_dataset, shifted = extract_features(real["model"], tf.data.TFRecordDataset(path), PRESET,
                                             label_offset=1, max_examples=7)
    np.testing.assert_allclose(from_dir, real["test"][0][:7], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(from_dataset, from_dir, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(shifted, labels - 1)
    with pytest.raises(FileNotFoundError, match="test-\\*"):
        extract_features(real["model"], str(real["folder"]), PRESET, pattern="test-*")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("C", [0.01, 1.0])
def test_probe_matches_sklearn_lbfgs_at_the_same_c(real, C):
    features, labels = real["train"]
    test_x, test_y = real["test"]
    split = (features[:NUM_TRAIN], labels[:NUM_TRAIN], features[NUM_TRAIN:], labels[NUM_TRAIN:])
    probe = fit_linear_probe(*split, c_grid=[C])
    reference = make_pipeline(StandardScaler(), LogisticRegression(C=C, solver="lbfgs",
                                                                   max_iter=1000))
    reference.fit(features, labels)  # train + val, as the probe's refit
    ours, theirs = accuracy(test_y, probe.predict(test_x)), reference.score(test_x, test_y)
    assert probe.C == C and abs(ours - theirs) <= 0.005
    # Unscaled features: L-BFGS stops at max_iter before converging, so both get the same
    # float64 input (the probe computes in float64) to follow the same path.
    raw_probe = fit_linear_probe(*split, c_grid=[C], standardize=False, max_iter=300)
    raw = LogisticRegression(C=C, solver="lbfgs", max_iter=300).fit(
        features.astype(np.float64), labels)
    assert abs(accuracy(test_y, raw_probe.predict(test_x)) - raw.score(test_x, test_y)) <= 0.005
    np.testing.assert_allclose(probe.predict_proba(test_x).sum(axis=1), 1.0, rtol=1e-6)
    if real["is_real"]:  # a few training steps already give clearly non-trivial features
        assert ours > 0.6


def test_grid_sweep_with_warm_starts_picks_the_best_validation_c(real):
    features, labels = real["train"]
    train_x, train_y = features[:NUM_TRAIN], labels[:NUM_TRAIN]
    val_x, val_y = features[NUM_TRAIN:], labels[NUM_TRAIN:]
    grid = [1e-5, 1e-3, 1e-1, 10.0]
    probe = fit_linear_probe(train_x, train_y, val_x, val_y, c_grid=grid, refit=False)
    scaler = StandardScaler().fit(train_x)
    for C in grid:  # warm starts stop L-BFGS at a slightly different point, same optimum
        fresh = LogisticRegression(C=C, solver="lbfgs", max_iter=1000).fit(
            scaler.transform(train_x), train_y)
        assert abs(probe.val_scores[C] - fresh.score(scaler.transform(val_x), val_y)) <= 0.01
    assert probe.C == max(grid, key=lambda c: (probe.val_scores[c], -c))
    assert probe.val_scores[1e-5] < probe.val_scores[probe.C]

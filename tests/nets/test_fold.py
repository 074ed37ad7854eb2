"""BatchNorm folding: the inference model computes what the trained one does, with no BN left."""

import keras
import numpy as np
import pytest

from assembled_cnn.nets import build_model, fold_batch_norm
from assembled_cnn.nets.fold import FoldedBatchNorm
from assembled_cnn.nets.model_info import is_batch_norm_folded, model_info
from assembled_cnn.nets.tf1_checkpoint import Tf1CheckpointError, load_tf1_checkpoint

from tests.nets.test_tf1_reference import fixture_hparams


def randomise_batch_norms(model, seed=0):
    """Non-trivial moving statistics, so that a wrong fold changes the outputs."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.moving_mean.shape
            layer.moving_mean.assign(rng.normal(0, 0.3, shape))
            layer.moving_variance.assign(rng.uniform(0.3, 3.0, shape))
            layer.gamma.assign(rng.uniform(0.5, 1.5, shape))
            layer.beta.assign(rng.normal(0, 0.3, shape))


def batch_norms(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


@pytest.mark.parametrize("name,kwargs", [
    ("resnet50", dict(num_filters=8)),
    ("assemble_resnet50", dict(num_filters=8)),   # Big-Little, SK, anti-alias, DropBlock, ResNet-D
    ("se_resnet50", dict(num_filters=8)),
    ("mobilenet_v1", dict(width_multiplier=0.25)),  # depthwise convs
    ("efficientnet_lite0", dict(width_multiplier=0.25)),  # 5x5 depthwise, TF "SAME" convs
    ("resnet18", dict(num_filters=8, embedding_size=16)),  # the embedding is a 1x1 conv + BN too
])
def test_folded_model_matches_the_original(name, kwargs):
    model = build_model(name, num_classes=7, input_size=64, **kwargs)
    randomise_batch_norms(model)
    folded = fold_batch_norm(model)
    x = np.random.default_rng(1).normal(0, 1, (3, 64, 64, 3)).astype("float32")
    expected = model(x, training=False).numpy()
    got = folded(x, training=False).numpy()
    assert np.abs(got - expected).max() <= 1e-4 * max(1.0, float(np.abs(expected).max()))
    assert batch_norms(model) and not batch_norms(folded)
    assert [layer.name for layer in folded.layers] == [layer.name for layer in model.layers]
    assert is_batch_norm_folded(folded) and not is_batch_norm_folded(model)
    assert model_info(folded).config == model_info(model).config


def test_folding_is_a_snapshot_and_leaves_the_original_trainable():
    model = build_model("resnet18", num_classes=3, num_filters=8, input_size=32)
    randomise_batch_norms(model)
    before = [v.numpy().copy() for v in model.weights]
    folded = fold_batch_norm(model)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, model.weights))
    stem = folded.get_layer("stem_conv")
    assert stem.use_bias and stem.kernel is not model.get_layer("stem_conv").kernel
    x = np.zeros((1, 32, 32, 3), "float32")
    with pytest.raises(ValueError, match="folded into the convolution"):
        folded(x, training=True)
    model(x, training=True)  # the original still trains


def test_folded_model_reproduces_the_original_checkpoint(tf1_fixtures):
    folder = tf1_fixtures / "assemble_resnet50_w16"
    _, hparams = fixture_hparams(folder)
    model = build_model(**hparams)
    load_tf1_checkpoint(model, str(folder))
    folded = fold_batch_norm(model)
    reference = np.load(folder / "logits.npy")
    logits = folded(np.load(folder / "input.npy"), training=False).numpy()
    assert np.abs(logits - reference).max() <= 1e-4 * max(1.0, float(np.abs(reference).max()))
    with pytest.raises(Tf1CheckpointError, match="folded"):
        load_tf1_checkpoint(folded, str(folder))


def test_subclassed_models_are_refused_with_a_reason():
    class Tiny(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="functional or Sequential"):
        fold_batch_norm(Tiny())
    assert issubclass(FoldedBatchNorm, keras.layers.Layer)


def test_only_a_bn_that_directly_follows_a_conv_used_by_nothing_else_is_folded():
    inputs = keras.Input((8, 8, 3))
    shared = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name="shared")(inputs)
    a = keras.layers.BatchNormalization(name="bn_a")(shared)   # the conv also feeds `b`: kept
    b = keras.layers.ReLU(name="b")(shared)
    c = keras.layers.Conv2D(4, 1, name="with_bias")(inputs)
    c = keras.layers.BatchNormalization(name="bn_c")(c)        # conv with a bias: folded into it
    s = keras.layers.BatchNormalization(name="bn_sum")(keras.layers.Add()([a, b, c]))  # after an Add: kept
    model = keras.Model(inputs, s)
    randomise_batch_norms(model)
    model.get_layer("with_bias").bias.assign(np.linspace(-1, 1, 4))
    folded = fold_batch_norm(model)
    assert sorted(layer.name for layer in batch_norms(folded)) == ["bn_a", "bn_sum"]
    x = np.random.default_rng(2).normal(size=(2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(folded(x).numpy(), model(x, training=False).numpy(), rtol=1e-5, atol=1e-5)

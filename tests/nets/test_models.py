"""Model-level behaviour: shapes, zero-gamma, registry, mixed precision, checkpoint round trip."""

import keras
import numpy as np
import pytest

from assembled_cnn.model_dir import restore_model, save_model_checkpoint, save_model_config
from assembled_cnn.nets import ModelConfigError, build_model, list_models, model_info, set_dropblock_keep_prob

TINY = dict(num_filters=8, num_classes=5)


@pytest.mark.parametrize("size", [224, 256])
def test_big_little_feature_map_sizes(size):
    model = build_model("assemble_resnet50", input_size=size, **TINY)
    q = size // 4
    expected = {"stem_merge_relu": q, "s1_big_b1_add": q // 2, "s1_little_expand_bn": q,
                "s1_merge_b0_out": q // 2, "s2_big_b2_add": q // 4, "s2_merge_b0_out": q // 4,
                "s3_big_b4_add": q // 8, "s3_little_b0_out": q // 4, "s3_merge_b0_out": q // 4,
                "s4_b2_out": q // 8}
    for layer, side in expected.items():
        assert model.get_layer(layer).output.shape[1:3] == (side, side), layer
    channels = [model.get_layer(n).output.shape[-1] for n in ("s1_merge_b0_out", "s2_merge_b0_out",
                                                                "s3_merge_b0_out", "s4_b2_out")]
    assert channels == [32, 64, 128, 256]
    assert model(np.zeros((1, size, size, 3), np.float32)).shape == (1, 5)


def test_big_little_rejects_sizes_that_cannot_merge():
    with pytest.raises(ModelConfigError, match="multiple of 32"):
        build_model("assemble_resnet50", input_size=200, **TINY)


def test_zero_gamma_initialises_only_the_last_bn_of_each_branch():
    model = build_model("resnet50", zero_gamma=True, **TINY)
    last = [l for l in model.layers if l.name.endswith("_conv3_bn")]
    others = [l for l in model.layers if l.name.endswith("_bn") and not l.name.endswith("_conv3_bn")]
    assert len(last) == 16 and all(np.all(l.gamma.numpy() == 0) for l in last)
    assert others and all(np.all(l.gamma.numpy() == 1) for l in others)
    plain = build_model("resnet50", zero_gamma=False, **TINY)
    assert np.all(plain.get_layer("s1_b0_conv3_bn").gamma.numpy() == 1)


def test_dropblock_sits_in_stages_three_and_four_and_follows_the_schedule():
    model = build_model("assemble_resnet50", input_size=64, **TINY)
    drop = [l for l in model.layers if l.name.endswith("_dropblock")]
    assert drop and {l.name.split("_")[0] for l in drop} == {"s3", "s4"}
    assert {l.gamma_scale for l in drop if l.name.startswith("s3")} == {0.25}
    assert {l.gamma_scale for l in drop if l.name.startswith("s4")} == {1.0}
    x = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype("float32")
    set_dropblock_keep_prob(model, 1.0)
    a, b = model(x, training=True), model(x, training=True)
    np.testing.assert_allclose(a, b, rtol=1e-5)
    set_dropblock_keep_prob(model, 0.5)
    assert not np.allclose(model(x, training=True), a, rtol=1e-3)


def test_registry_presets_and_errors():
    names = set(list_models())
    assert {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnet200", "resnet50d",
            "se_resnet50", "sk_resnet50", "assemble_resnet50", "assemble_resnet152", "mobilenet_v1",
            "mobilenet_v2"} <= names
    cfg = model_info(build_model("assemble_resnet152", **TINY)).config
    assert (cfg.resnet_version, cfg.bl_alpha, cfg.bl_beta, cfg.use_sk_block) == (2, 1, 2, True)
    with pytest.raises(ModelConfigError, match="unknown model 'resnet51'"):
        build_model("resnet51")
    with pytest.raises(ModelConfigError, match="use_sk"):
        build_model("resnet50", use_sk=True)
    with pytest.raises(ModelConfigError, match="resnet_size=34"):
        build_model(resnet_size=34, resnet_version=2)


@pytest.mark.parametrize("name,trainable", [("resnet18", 11689512), ("resnet34", 21797672),
                                            ("mobilenet_v1", 4231976), ("mobilenet_v2", 3504872)])
def test_standard_parameter_counts(name, trainable):
    model = build_model(name, num_classes=1000)
    assert sum(int(np.prod(v.shape)) for v in model.trainable_weights) == trainable


def test_mixed_bfloat16_gives_float32_logits():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = build_model("assemble_resnet50", input_size=64, **TINY)
        assert model.get_layer("s1_big_b0_conv1").compute_dtype == "bfloat16"
        x = np.random.default_rng(0).normal(size=(2, 64, 64, 3)).astype("float32")
        for training in (False, True):
            logits = model(x, training=training)
            assert logits.dtype == "float32" and np.all(np.isfinite(logits.numpy()))
    finally:
        keras.config.set_dtype_policy(previous)


def test_checkpoint_round_trip(tmp_path):
    model = build_model("se_resnet50", input_size=32, **TINY)
    rng = np.random.default_rng(4)
    for var in model.weights:
        var.assign(rng.normal(0, 0.1, var.shape).astype(var.dtype) + (1 if "variance" in var.name else 0))
    save_model_config(str(tmp_path), model_info(model).config)
    save_model_checkpoint(str(tmp_path), model, step=7)
    restored = restore_model(str(tmp_path))
    x = rng.normal(size=(2, 32, 32, 3)).astype("float32")
    np.testing.assert_array_equal(model(x, training=False).numpy(), restored(x, training=False).numpy())


@pytest.mark.parametrize("name", ["resnet18", "resnet50d", "mobilenet_v1", "mobilenet_v2"])
def test_models_train_a_step_and_produce_features(name):
    model = build_model(name, input_size=32, num_classes=4,
                        **({"num_filters": 8} if "resnet" in name else {"width_multiplier": 0.25}))
    x = np.random.default_rng(0).normal(size=(4, 32, 32, 3)).astype("float32")
    import tensorflow as tf
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits([0, 1, 2, 3], model(x, training=True)))
    grads = tape.gradient(loss, model.trainable_weights)
    assert all(g is not None for g in grads)
    features = keras.Model(model.input, model.get_layer("features").output)(x)
    assert features.shape[0] == 4 and len(features.shape) == 2


def test_stem_stride_1_gives_a_small_image_the_maps_of_its_2x_upsampled_copy():
    common = dict(num_classes=10, num_filters=8, use_resnet_d=True)
    small = build_model("resnet18", stem_stride=1, **common)
    imagenet_stem = build_model("resnet18", **common)
    for model, size in ((small, 28), (imagenet_stem, 56)):
        stem = keras.Model(model.input, model.get_layer("stem_pool").output)
        assert tuple(stem(np.zeros((1, size, size, 3), np.float32)).shape) == (1, 14, 14, 8)
    plain = build_model("resnet18", stem_stride=1, num_classes=10, num_filters=8)
    assert plain.get_layer("stem_conv").strides == (1, 1)
    with pytest.raises(ModelConfigError, match="stem_stride"):
        build_model("mobilenet_v1", stem_stride=1, num_classes=10)

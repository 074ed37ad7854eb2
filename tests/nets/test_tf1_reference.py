"""The networks reproduce the original TF1 graphs: names, shapes, parameter counts, logits."""

import json

import numpy as np
import pytest

from assembled_cnn.nets import build_model
from assembled_cnn.nets.tf1_checkpoint import Tf1CheckpointError, load_tf1_checkpoint, tf1_variable_map
from assembled_cnn.tools import convert_tf1_checkpoint

FIXTURES = ["resnet50_v1_w16", "resnet50_v1d_se_w16", "assemble_resnet50_w16"]
FULL_SIZE_PRESETS = {
    "resnet50_v1": ("resnet50", {}),
    "resnet50_v1_d": ("resnet50d", {}),
    "resnet50_v1_sk_sconv3": ("sk_resnet50", {"anti_alias_type": "sconv", "anti_alias_filter_size": 3}),
    "assemble_resnet50": ("assemble_resnet50", {}),
    "assemble_resnet152": ("assemble_resnet152", {}),
}


def fixture_hparams(folder):
    cfg = json.loads((folder / "config.json").read_text())
    return cfg, dict(resnet_size=cfg["resnet_size"], resnet_version=cfg["resnet_version"],
                     num_filters=cfg["num_filters"], num_classes=cfg["num_classes"],
                     use_resnet_d=cfg.get("use_resnet_d", False), **cfg["model_kw"])


def trainable_count(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


@pytest.mark.parametrize("name", FIXTURES)
def test_original_checkpoint_reproduces_logits(tf1_fixtures, name):
    folder = tf1_fixtures / name
    cfg, hparams = fixture_hparams(folder)
    model = build_model(**hparams)
    report = load_tf1_checkpoint(model, str(folder))
    assert len(report.assigned) == len(cfg["variables"])
    assert trainable_count(model) == cfg["trainable_params"]
    logits = model(np.load(folder / "input.npy"), training=False).numpy()
    reference = np.load(folder / "logits.npy")
    tolerance = 1e-4 * max(1.0, float(np.abs(reference).max()))
    assert np.abs(logits - reference).max() <= tolerance


@pytest.mark.parametrize("key", sorted(FULL_SIZE_PRESETS))
def test_full_size_names_shapes_and_parameter_counts(tf1_fixtures, key):
    expected = json.loads((tf1_fixtures / "full_size_variables.json").read_text())[key]
    variables = expected["variables"]
    expected_shapes = {n: tuple(s) for n, s in (variables.items() if isinstance(variables, dict) else variables)}
    preset, overrides = FULL_SIZE_PRESETS[key]
    model = build_model(preset, num_classes=expected["num_classes"], **overrides)
    ours = {name: tuple(var.shape) for name, (_, var) in tf1_variable_map(model).items()}
    assert ours == expected_shapes
    assert trainable_count(model) == expected["trainable_params"]


def test_mismatched_architecture_is_a_clear_error(tf1_fixtures):
    _, hparams = fixture_hparams(tf1_fixtures / "assemble_resnet50_w16")
    model = build_model(**{**hparams, "use_sk_block": False})
    with pytest.raises(Tf1CheckpointError) as err:
        load_tf1_checkpoint(model, str(tf1_fixtures / "assemble_resnet50_w16"))
    message = str(err.value)
    assert "shape mismatches" in message and "stage1/big1/conv2d_2/kernel" in message
    assert "(3, 3, 16, 16) vs checkpoint (3, 3, 16, 32)" in message
    assert "does not have" in message and "sk_block/sk_fc_1/kernel" in message


def test_skip_head_keeps_a_fresh_classifier_of_another_size(tf1_fixtures):
    folder = tf1_fixtures / "resnet50_v1_w16"
    _, hparams = fixture_hparams(folder)
    model = build_model(**{**hparams, "num_classes": 3})
    with pytest.raises(Tf1CheckpointError, match="resnet_model/dense/kernel"):
        load_tf1_checkpoint(model, str(folder))
    report = load_tf1_checkpoint(model, str(folder), skip_head=True)
    assert sorted(report.skipped) == ["resnet_model/dense/bias", "resnet_model/dense/kernel"]
    assert len(report.assigned) == 265


def test_moving_statistics_can_be_left_out(tf1_fixtures):
    folder = tf1_fixtures / "resnet50_v1_w16"
    _, hparams = fixture_hparams(folder)
    model = build_model(**hparams)
    report = load_tf1_checkpoint(model, str(folder), restore_moving_stats=False)
    assert len(report.skipped) == 2 * 53 and all("moving_" in n for n in report.skipped)
    assert np.all(model.get_layer("stem_conv_bn").moving_mean.numpy() == 0.0)


def test_converter_cli_writes_a_model_dir_that_reproduces_logits(tf1_fixtures, tmp_path):
    from assembled_cnn.model_dir import restore_model

    folder = tf1_fixtures / "assemble_resnet50_w16"
    args = ["--tf1_checkpoint", str(folder), "--model_dir", str(tmp_path), "--model", "assemble_resnet50",
            "--num_filters", "16", "--num_classes", "11"]
    assert convert_tf1_checkpoint.main(args) == 0
    model = restore_model(str(tmp_path))
    logits = model(np.load(folder / "input.npy"), training=False).numpy()
    assert np.abs(logits - np.load(folder / "logits.npy")).max() < 3e-3
    assert convert_tf1_checkpoint.main(args + ["--use_sk_block", "false"]) == 2

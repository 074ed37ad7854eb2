"""`build_model(name, weights=...)` reads every supported source through `weights.sources`, prints
and keeps the report, and turns a wrong path or an incompatible file into a one-line UserError."""

import json
from collections import OrderedDict

import numpy as np
import pytest
from test_keras_applications import _randomised_application, _write_legacy_h5
from test_torchvision_resnet import CLASSES, WIDTH, _model, _random_torchvision_state_dict
from torch_files import write_legacy, write_safetensors, write_zip

from assembled_cnn.errors import UserError
from assembled_cnn.nets import build_model
from assembled_cnn.tools.import_weights import main as import_weights
from assembled_cnn.weights.keras_import import load_keras_application_weights
from assembled_cnn.weights.torch_import import load_torch_weights

IMAGES = np.random.default_rng(0).uniform(-2, 2, (2, 64, 64, 3)).astype(np.float32)
R18 = dict(num_filters=WIDTH, num_classes=CLASSES, stem_pool_padding="symmetric")


def _logits(model):
    return model(IMAGES, training=False).numpy()


@pytest.fixture(scope="module")
def r18():
    """A torchvision-layout resnet18 state dict and the logits of the model it was imported into."""
    sd = _random_torchvision_state_dict(18, np.random.default_rng(21))
    reference = _model(18)
    load_torch_weights(reference, sd)
    return sd, _logits(reference)


@pytest.mark.parametrize("kind", ["zip.pth", "legacy.pth.tar", "safetensors"])
def test_torch_files(tmp_path, r18, capsys, kind):
    sd, expected = r18
    path = tmp_path / f"r18.{kind.split('.', 1)[-1] if kind != 'safetensors' else 'safetensors'}"
    {"zip.pth": write_zip, "legacy.pth.tar": write_legacy, "safetensors": write_safetensors}[kind](path, sd)
    model = build_model("resnet18", weights=str(path), **R18)
    np.testing.assert_array_equal(_logits(model), expected)
    report = model.import_report
    assert not report.missing and not report.unexpected and len(report.assigned) == 102
    assert ("conv1.weight", "stem_conv/kernel", (7, 7, 3, WIDTH)) in report.assigned
    assert f"weights {path}: assigned 102 tensors" in capsys.readouterr().out


def test_moco_checkpoint_with_skip_head(tmp_path, r18):
    sd, _ = r18
    path = tmp_path / "moco_v2.pth.tar"
    write_legacy(path, {"epoch": 200, "state_dict": OrderedDict(
        [(f"module.encoder_q.{k}", v) for k, v in sd.items() if not k.startswith("fc.")]
        + [(f"module.encoder_k.{k}", v) for k, v in sd.items()])})
    model = build_model("resnet18", weights=path, skip_head=True, **{**R18, "num_classes": 3})
    assert [name for name, _ in model.import_report.missing] == ["logits/kernel", "logits/bias"]
    reference = _model(18)
    load_torch_weights(reference, sd)
    np.testing.assert_array_equal(model.get_layer("s4_b1_conv3").get_weights()[0],
                                  reference.get_layer("s4_b1_conv3").get_weights()[0])


def test_keras_applications_h5(tmp_path):
    source = _randomised_application("mobilenet_v2", np.random.default_rng(22))
    path = tmp_path / "mobilenet_v2.h5"
    _write_legacy_h5(source, path)
    settings = dict(width_multiplier=0.35, num_classes=7, bn_epsilon=1e-3, conv_padding="same")
    model = build_model("mobilenet_v2", weights=str(path), **settings)
    reference = build_model("mobilenet_v2", **settings)
    load_keras_application_weights(reference, str(path))
    np.testing.assert_array_equal(_logits(model), _logits(reference))
    assert not model.import_report.missing and not model.import_report.unexpected


def test_model_dir_and_its_checkpoint_prefix(tmp_path, r18):
    sd, expected = r18
    source, model_dir = tmp_path / "r18.pth", tmp_path / "imported"
    write_zip(source, sd)
    assert import_weights(["--source", str(source), "--model", "resnet18", "--model_dir", str(model_dir),
                           "--num_filters", str(WIDTH), "--num_classes", str(CLASSES),
                           "--stem_pool_padding", "symmetric"]) == 0
    prefix = json.loads((model_dir / "import_report.json").read_text())["checkpoint"]
    for weights in (model_dir, prefix):
        model = build_model("resnet18", weights=weights, **R18)
        np.testing.assert_array_equal(_logits(model), expected)
        assert not model.import_report.missing and not model.import_report.unexpected
    other_task = build_model("resnet18", weights=model_dir, skip_head=True, **{**R18, "num_classes": 3})
    assert [name for name, _ in other_task.import_report.missing] == ["logits/kernel", "logits/bias"]
    with pytest.raises(UserError, match=r"shape mismatches: logits/kernel model \(64, 3\) vs file \(64, 6\)") as info:
        build_model("resnet18", weights=model_dir, **{**R18, "num_classes": 3})
    assert "\n" not in str(info.value)


def test_original_tf1_checkpoint(tf1_fixtures):
    folder = tf1_fixtures / "resnet50_v1_w16"
    config = json.loads((folder / "config.json").read_text())
    model = build_model(resnet_size=50, num_filters=config["num_filters"], num_classes=config["num_classes"],
                        weights=str(folder))
    expected = np.load(folder / "logits.npy")
    got = model(np.load(folder / "input.npy"), training=False).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(expected).max()))
    report = model.import_report
    assert not report.missing and not report.unexpected
    assert any(keras_name == "stem_conv/kernel" for _, keras_name, _ in report.assigned)


@pytest.mark.parametrize("weights, message", [
    ("imagenet", r"no pinned download of ImageNet weights for model 'resnet18'"),
    ("{tmp}/missing.pth", r"no such file, directory or checkpoint prefix"),
    ("{tmp}/junk.pth", r"not a readable PyTorch file"),
    ("{tmp}/notes.txt", r"unknown kind of file"),
    ("{tmp}", r"a directory without a TF checkpoint"),
    ("{tmp}/r50.pth", r"file tensors the model does not have"),
])
def test_wrong_sources_are_one_line_user_errors(tmp_path, weights, message):
    (tmp_path / "junk.pth").write_bytes(b"\x80\x02junk")
    (tmp_path / "notes.txt").write_text("hello")
    write_zip(tmp_path / "r50.pth", _random_torchvision_state_dict(50, np.random.default_rng(23)))
    with pytest.raises(UserError, match=message) as info:
        build_model("resnet18", weights=weights.format(tmp=tmp_path), **R18)
    assert "\n" not in str(info.value)


def test_imagenet_preset_is_refused_for_unpublished_lite_variants():
    with pytest.raises(UserError, match=r"no pinned download .* efficientnet_lite0, efficientnet_lite1, "
                                        r"efficientnet_lite2"):
        build_model("efficientnet_lite3", input_size=32, weights="imagenet")


@pytest.mark.slow
def test_imagenet_preset_loads_the_real_lite0():
    from test_efficientnet_lite import _pretrained_or_skip

    reference, _, _ = _pretrained_or_skip(0)  # skips where the pinned download is unavailable
    model = build_model("efficientnet_lite0", weights="imagenet")
    assert len(model.import_report.assigned) == 247 and not model.import_report.missing
    np.testing.assert_array_equal(model.get_layer("b15_project").get_weights()[0],
                                  reference.get_layer("b15_project").get_weights()[0])

"""timm `seresnet50` maps exactly onto `se_resnet50` with `se_bias=True` (checked against a numpy
forward pass of timm's SEModule); timm `skresnet*` and legacy SENet state dicts are refused with a
one-line reason."""

from collections import OrderedDict

import numpy as np
import pytest
from numpy_nets import torchvision_resnet
from test_torchvision_resnet import BLOCKS, CLASSES, _random_torchvision_state_dict, timm_se_channels
from torch_files import write_zip

from assembled_cnn.errors import UserError
from assembled_cnn.nets import build_model
from assembled_cnn.weights.torch_import import TorchImportError, load_torch_weights

SE_WIDTH = 32  # the smallest base width at which timm's C/16-rounded-to-8 equals our C // 16 in every stage


def _se_resnet50(**overrides):
    return build_model("se_resnet50", num_filters=SE_WIDTH, num_classes=CLASSES, stem_pool_padding="symmetric",
                       **overrides)


def test_rounding_agrees_at_this_width():
    assert [timm_se_channels(SE_WIDTH * 4 * 2 ** s) for s in range(4)] == [SE_WIDTH * 4 * 2 ** s // 16
                                                                           for s in range(4)]


def test_timm_seresnet50_equals_numpy_forward_pass(tmp_path):
    rng = np.random.default_rng(11)
    sd = _random_torchvision_state_dict(50, rng, timm_se=True, width=SE_WIDTH)
    path = tmp_path / "seresnet50.pth"
    write_zip(path, sd)
    model = _se_resnet50(se_bias=True)
    report = load_torch_weights(model, path)
    assert not report.missing and not report.unexpected and not report.notes
    assert ("layer4.2.se.fc1.bias", "s4_b2_se_reduce/bias", (timm_se_channels(SE_WIDTH * 32),)) in report.assigned
    images = rng.uniform(-2, 2, (2, 32, 32, 3)).astype(np.float32)
    expected = torchvision_resnet({k: v.astype(np.float64) for k, v in sd.items()}, images.astype(np.float64),
                                  BLOCKS[50], bottleneck=True)
    got = model(images, training=False).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    # The SE tensors matter to the logits: one reversed SE bias is visible.
    sd["layer1.0.se.fc2.bias"] = sd["layer1.0.se.fc2.bias"][::-1].copy()
    load_torch_weights(model, sd)
    assert not np.allclose(model(images, training=False).numpy(), expected, rtol=1e-4, atol=1e-4)


def test_se_without_bias_is_refused_in_one_line():
    sd = _random_torchvision_state_dict(50, np.random.default_rng(12), timm_se=True, width=SE_WIDTH)
    for model in (_se_resnet50(), build_model("resnet50", num_filters=SE_WIDTH, num_classes=CLASSES)):
        with pytest.raises(TorchImportError, match=r"timm SE blocks with biases .* se_bias=True") as info:
            load_torch_weights(model, sd)
        assert "\n" not in str(info.value) and isinstance(info.value, UserError)


def _timm_skresnet_keys():
    """The names timm's skresnet50 gives one SelectiveKernel block (paths 0 and 1, attention)."""
    sd = OrderedDict()
    for path in (0, 1):
        sd[f"layer1.0.conv2.paths.{path}.conv.weight"] = np.zeros((8, 4, 3, 3), np.float32)
        sd[f"layer1.0.conv2.paths.{path}.bn.weight"] = np.ones(8, np.float32)
    sd["layer1.0.conv2.attn.fc_reduce.weight"] = np.zeros((8, 8, 1, 1), np.float32)
    sd["layer1.0.conv2.attn.fc_select.weight"] = np.zeros((16, 8, 1, 1), np.float32)
    return sd


@pytest.mark.parametrize("preset", ["sk_resnet50", "resnet50"])
def test_timm_skresnet_is_refused_naming_the_mismatch(preset):
    sd = {**_random_torchvision_state_dict(50, np.random.default_rng(13)), **_timm_skresnet_keys()}
    model = build_model(preset, num_filters=8, num_classes=CLASSES)
    with pytest.raises(TorchImportError) as info:
        load_torch_weights(model, sd)
    message = str(info.value)
    assert "\n" not in message and "dilation 2" in message and "half of the input channels" in message
    if preset == "resnet50":
        assert message.startswith("<state dict>: timm SK-ResNet")


def test_legacy_senet_is_refused():
    sd = {"layer0.conv1.weight": np.zeros((64, 3, 7, 7), np.float32),
          "layer1.0.se_module.fc1.weight": np.zeros((16, 256, 1, 1), np.float32)}
    with pytest.raises(TorchImportError, match=r"legacy SENet .* first 1x1 conv"):
        load_torch_weights(_se_resnet50(se_bias=True), sd)


def test_import_weights_cli_takes_se_bias(tmp_path, capsys):
    from assembled_cnn.tools.import_weights import main as import_weights

    source = tmp_path / "seresnet50.pth"
    write_zip(source, _random_torchvision_state_dict(50, np.random.default_rng(14), timm_se=True, width=SE_WIDTH))
    common = ["--source", str(source), "--model", "se_resnet50", "--num_filters", str(SE_WIDTH),
              "--num_classes", str(CLASSES), "--stem_pool_padding", "symmetric"]
    assert import_weights([*common, "--model_dir", str(tmp_path / "without")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "se_bias=True" in err[0]
    assert import_weights([*common, "--se_bias", "true", "--model_dir", str(tmp_path / "with")]) == 0
    assert '"se_bias": true' in (tmp_path / "with" / "model_config.json").read_text()

"""Fine-tuning starts from imported weights: `--pretrained_model_checkpoint_path` (the runner's
`warm_start`) takes an import_weights model_dir or the PyTorch file itself."""

import numpy as np
from test_torchvision_resnet import CLASSES, WIDTH, _model, _random_torchvision_state_dict
from torch_files import write_legacy

from assembled_cnn.tools.import_weights import main as import_weights
from assembled_cnn.train.checkpoints import warm_start
from assembled_cnn.weights.torch_import import load_torch_weights


def _weights(model):
    return {f"{layer.name}/{v.name}": v.numpy() for layer in model.layers for v in layer.weights}


def test_warm_start_from_model_dir_and_from_pth(tmp_path):
    sd = _random_torchvision_state_dict(18, np.random.default_rng(7))
    source, model_dir = tmp_path / "r18.pth", tmp_path / "imported"
    write_legacy(source, sd)
    assert import_weights(["--source", str(source), "--model", "resnet18", "--model_dir", str(model_dir),
                           "--num_filters", str(WIDTH), "--num_classes", str(CLASSES),
                           "--stem_pool_padding", "symmetric"]) == 0
    reference = _model(18)
    load_torch_weights(reference, sd)
    expected = _weights(reference)

    for path, with_stats in ((str(model_dir), True), (str(source), False)):
        target = _model(18, num_classes=3)  # a new task: other classes
        fresh = _weights(target)
        report = warm_start(target, path, restore_bn_stats=with_stats)
        got = _weights(target)
        assert "logits/kernel" in report["not_restored"] and got["logits/kernel"].shape == (8 * WIDTH, 3)
        np.testing.assert_array_equal(got["s3_b0_conv2/kernel"], expected["s3_b0_conv2/kernel"])
        np.testing.assert_array_equal(got["s3_b0_conv2_bn/gamma"], expected["s3_b0_conv2_bn/gamma"])
        stats = expected if with_stats else fresh
        np.testing.assert_array_equal(got["s3_b0_conv2_bn/moving_variance"], stats["s3_b0_conv2_bn/moving_variance"])


def test_warm_start_from_safetensors_and_keras_h5(tmp_path):
    """The other file kinds `-pmcp` takes: a .safetensors state dict and a keras.applications .h5."""
    from test_keras_applications import _randomised_application, _write_legacy_h5
    from torch_files import write_safetensors

    from assembled_cnn.nets import build_model

    sd = _random_torchvision_state_dict(18, np.random.default_rng(9))
    safetensors = tmp_path / "r18.safetensors"
    write_safetensors(safetensors, sd)
    target = _model(18, num_classes=3)
    report = warm_start(target, str(safetensors), restore_bn_stats=True)
    assert report["format"] == "torch" and len(report["restored"]) == 100 and not report["notes"]
    np.testing.assert_array_equal(_weights(target)["s2_b0_conv2/kernel"],
                                  sd["layer2.0.conv1.weight"].transpose(2, 3, 1, 0))

    h5 = tmp_path / "mobilenet_v2.h5"
    _write_legacy_h5(_randomised_application("mobilenet_v2", np.random.default_rng(10), classes=1000), h5)
    target = build_model("mobilenet_v2", width_multiplier=0.35, num_classes=4, bn_epsilon=1e-3, conv_padding="same")
    report = warm_start(target, str(h5), restore_bn_stats=False)
    assert report["format"] == "h5" and "logits/kernel" in report["not_restored"]
    assert "stem_conv/kernel" in report["restored"] and "stem_conv_bn/moving_mean" not in report["restored"]


def test_warm_start_wrong_sources_are_one_line_user_errors(tmp_path):
    import pytest

    from assembled_cnn.errors import UserError

    for path, message in (("imagenet", "no pinned download of ImageNet weights"),
                          (str(tmp_path / "nothing"), "no such file, directory or checkpoint prefix")):
        with pytest.raises(UserError, match=message) as info:
            warm_start(_model(18), path, restore_bn_stats=False)
        assert "\n" not in str(info.value)

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

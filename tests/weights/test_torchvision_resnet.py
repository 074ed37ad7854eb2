"""torchvision-layout ResNet state dicts (and MoCo v2 checkpoints) imported into our ResNets,
checked against a numpy forward pass written from torchvision's definition."""

from collections import OrderedDict

import numpy as np
import pytest
from numpy_nets import torchvision_resnet
from torch_files import write_zip

from assembled_cnn.nets import build_model
from assembled_cnn.weights.torch_import import TorchImportError, load_torch_weights

BLOCKS = {18: (2, 2, 2, 2), 50: (3, 4, 6, 3)}
WIDTH, CLASSES = 8, 6  # torchvision's 64 base channels scaled down to keep the test fast


def timm_se_channels(channels: int) -> int:
    """timm SEModule's reduction: make_divisible(C / 16, 8) with round_limit 0."""
    return max(8, int(channels / 16 + 4) // 8 * 8)


def _random_torchvision_state_dict(depth, rng, timm_d=False, timm_se=False, width=None):
    """torchvision.models.resnet{depth} (or timm resnet{depth}d, or timm seresnet{depth}) parameter
    names and shapes at base width `width` (default WIDTH)."""
    base = width or WIDTH
    sd = OrderedDict()
    bottleneck, expansion = depth >= 50, 4 if depth >= 50 else 1

    def conv(name, out, inp, k):
        sd[f"{name}.weight"] = rng.normal(0, np.sqrt(2.0 / (inp * k * k)), (out, inp, k, k))

    def bn(name, c):
        sd[f"{name}.weight"], sd[f"{name}.bias"] = rng.uniform(0.5, 1.5, c), rng.normal(0, 0.2, c)
        sd[f"{name}.running_mean"], sd[f"{name}.running_var"] = rng.normal(0, 0.2, c), rng.uniform(0.5, 1.5, c)
        sd[f"{name}.num_batches_tracked"] = np.array(9, dtype=np.int64)

    if timm_d:  # deep stem: 3x3 convs of base/2, base/2, base
        conv("conv1.0", base // 2, 3, 3), bn("conv1.1", base // 2)
        conv("conv1.3", base // 2, base // 2, 3), bn("conv1.4", base // 2)
        conv("conv1.6", base, base // 2, 3), bn("bn1", base)
    else:
        conv("conv1", base, 3, 7), bn("bn1", base)
    inplanes = base
    for stage, count in enumerate(BLOCKS[depth], start=1):
        planes = base * 2 ** (stage - 1)
        for b in range(count):
            p, stride = f"layer{stage}.{b}", 2 if stage > 1 and b == 0 else 1
            if bottleneck:
                conv(f"{p}.conv1", planes, inplanes, 1), bn(f"{p}.bn1", planes)
                conv(f"{p}.conv2", planes, planes, 3), bn(f"{p}.bn2", planes)
                conv(f"{p}.conv3", planes * 4, planes, 1), bn(f"{p}.bn3", planes * 4)
            else:
                conv(f"{p}.conv1", planes, inplanes, 3), bn(f"{p}.bn1", planes)
                conv(f"{p}.conv2", planes, planes, 3), bn(f"{p}.bn2", planes)
            if timm_se:
                out, rd = planes * expansion, timm_se_channels(planes * expansion)
                conv(f"{p}.se.fc1", rd, out, 1)
                sd[f"{p}.se.fc1.bias"] = rng.normal(0, 0.2, rd)
                conv(f"{p}.se.fc2", out, rd, 1)
                sd[f"{p}.se.fc2.bias"] = rng.normal(0, 0.2, out)
            if stride != 1 or inplanes != planes * expansion:
                first = 1 if timm_d else 0  # timm: downsample.0 is the avg-pool
                conv(f"{p}.downsample.{first}", planes * expansion, inplanes, 1)
                bn(f"{p}.downsample.{first + 1}", planes * expansion)
            inplanes = planes * expansion
    sd["fc.weight"], sd["fc.bias"] = rng.normal(0, 0.1, (CLASSES, inplanes)), rng.normal(0, 0.1, CLASSES)
    return OrderedDict((k, v.astype(np.float32) if v.dtype == np.float64 else v) for k, v in sd.items())


def _model(depth, padding="symmetric", num_classes=CLASSES, **overrides):
    return build_model(f"resnet{depth}", num_filters=WIDTH, num_classes=num_classes, stem_pool_padding=padding,
                       **overrides)


@pytest.mark.parametrize("depth", sorted(BLOCKS))
def test_import_equals_numpy_forward_pass(tmp_path, depth):
    rng = np.random.default_rng(depth)
    sd = _random_torchvision_state_dict(depth, rng)
    path = tmp_path / f"resnet{depth}.pth"
    write_zip(path, {"epoch": 90, "state_dict": OrderedDict((f"module.{k}", v) for k, v in sd.items())})
    model = _model(depth)
    report = load_torch_weights(model, path)
    assert not report.missing and not report.unexpected and not report.notes
    images = rng.uniform(-2, 2, (2, 64, 64, 3)).astype(np.float32)
    expected = torchvision_resnet({k: v.astype(np.float64) for k, v in sd.items()}, images.astype(np.float64),
                                  BLOCKS[depth], bottleneck=depth >= 50)
    got = model(images, training=False).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    same = _model(depth, "same")
    assert load_torch_weights(same, sd).notes  # TF "SAME" max-pool: reported as inexact, and it is
    assert not np.allclose(same(images, training=False).numpy(), expected, rtol=1e-3, atol=1e-3)


def test_timm_resnet50d_with_resnet_d_stride1_pool_off():
    rng = np.random.default_rng(4)
    sd = _random_torchvision_state_dict(50, rng, timm_d=True)
    model = _model(50, use_resnet_d=True, resnet_d_stride1_pool=False)
    report = load_torch_weights(model, sd)
    assert not report.missing and not report.unexpected and not report.notes
    images = rng.uniform(-2, 2, (2, 64, 64, 3)).astype(np.float32)
    expected = torchvision_resnet({k: v.astype(np.float64) for k, v in sd.items()}, images.astype(np.float64),
                                  BLOCKS[50], bottleneck=True, deep_stem=True)
    np.testing.assert_allclose(model(images, training=False).numpy(), expected, rtol=1e-4,
                               atol=1e-4 * np.abs(expected).max())
    assert any("resnet_d_stride1_pool" in note for note in load_torch_weights(_model(50, use_resnet_d=True), sd).notes)


def test_moco_v2_checkpoint_without_classifier():
    sd = _random_torchvision_state_dict(18, np.random.default_rng(3))
    checkpoint = {"arch": "resnet18", "state_dict": OrderedDict(
        [(f"module.encoder_q.{k}", v) for k, v in sd.items() if not k.startswith("fc.")]
        + [(f"module.encoder_k.{k}", v) for k, v in sd.items()] + [("queue", np.zeros((4, 2), np.float32))])}
    with pytest.raises(TorchImportError, match=r"2 model weights missing from the file: logits/kernel"):
        load_torch_weights(_model(18), checkpoint)
    report = load_torch_weights(_model(18), checkpoint, skip_head=True)
    assert [n for n, _ in report.missing] == ["logits/kernel", "logits/bias"]
    assert len(report.assigned) == len([k for k in sd if "num_batches" not in k and not k.startswith("fc.")])


def test_unsupported_variants_are_refused():  # SK / SE: the original's units, not timm's
    with pytest.raises(TorchImportError, match="no PyTorch layout"):
        load_torch_weights(build_model("sk_resnet50", num_filters=WIDTH, num_classes=CLASSES), {"x": np.zeros(1)})

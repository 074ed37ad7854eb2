"""Where torch / torchvision / timm are installed: their own randomly initialised models, saved with
`torch.save` (zip and legacy formats), imported, and compared logit for logit. Skipped elsewhere
(the toolkit does not depend on torch; the numpy checks in this folder run everywhere)."""

import numpy as np
import pytest

from assembled_cnn.nets import build_model
from assembled_cnn.weights.torch_import import TorchImportError, load_torch_weights

torch = pytest.importorskip("torch")

CLASSES = 6
IMAGES = np.random.default_rng(0).uniform(-2, 2, (2, 64, 64, 3)).astype(np.float32)


def _randomise_batch_norms(module) -> None:
    """Random affine parameters and running statistics, so that a wrong BN mapping shows."""
    generator = torch.Generator().manual_seed(0)
    for layer in module.modules():
        if isinstance(layer, torch.nn.BatchNorm2d):
            count = layer.num_features
            layer.weight.data = torch.rand(count, generator=generator) + 0.5
            layer.bias.data = torch.randn(count, generator=generator) * 0.2
            layer.running_mean.data = torch.randn(count, generator=generator) * 0.2
            layer.running_var.data = torch.rand(count, generator=generator) + 0.5


def _torch_logits(module) -> np.ndarray:
    module.eval()
    with torch.no_grad():
        return module(torch.from_numpy(IMAGES.transpose(0, 3, 1, 2).copy())).numpy()


def _save(module, path, legacy: bool) -> None:
    torch.save(module.state_dict(), path, _use_new_zipfile_serialization=not legacy)


def _compare(source, ours, tmp_path, legacy=False):
    torch.manual_seed(0)
    _randomise_batch_norms(source)
    path = tmp_path / "weights.pth"
    _save(source, path, legacy)
    report = load_torch_weights(ours, path)
    assert not report.missing and not report.unexpected and not report.notes
    expected = _torch_logits(source)
    np.testing.assert_allclose(ours(IMAGES, training=False).numpy(), expected, rtol=1e-4,
                               atol=1e-4 * np.abs(expected).max())


@pytest.mark.parametrize("depth, legacy", [(18, False), (50, True)])
def test_torchvision_resnet(tmp_path, depth, legacy):
    torchvision = pytest.importorskip("torchvision")
    source = getattr(torchvision.models, f"resnet{depth}")(weights=None, num_classes=CLASSES)
    ours = build_model(f"resnet{depth}", num_classes=CLASSES, stem_pool_padding="symmetric")
    _compare(source, ours, tmp_path, legacy)


def test_timm_resnet50d(tmp_path):
    timm = pytest.importorskip("timm")
    source = timm.create_model("resnet50d", pretrained=False, num_classes=CLASSES)
    ours = build_model("resnet50d", num_classes=CLASSES, stem_pool_padding="symmetric", resnet_d_stride1_pool=False)
    _compare(source, ours, tmp_path)


def test_timm_seresnet50(tmp_path):
    timm = pytest.importorskip("timm")
    source = timm.create_model("seresnet50", pretrained=False, num_classes=CLASSES)
    ours = build_model("se_resnet50", num_classes=CLASSES, stem_pool_padding="symmetric", se_bias=True)
    _compare(source, ours, tmp_path)


def test_timm_skresnet_is_refused(tmp_path):
    timm = pytest.importorskip("timm")
    source = timm.create_model("skresnet18", pretrained=False, num_classes=CLASSES)
    path = tmp_path / "skresnet18.pth"
    _save(source, path, legacy=False)
    with pytest.raises(TorchImportError, match="dilation 2"):
        load_torch_weights(build_model("sk_resnet50", num_filters=8, num_classes=CLASSES), path)


def test_safetensors_written_by_the_library(tmp_path):
    torchvision = pytest.importorskip("torchvision")
    safetensors_torch = pytest.importorskip("safetensors.torch")
    source = torchvision.models.resnet18(weights=None, num_classes=CLASSES)
    _randomise_batch_norms(source)
    path = tmp_path / "resnet18.safetensors"
    safetensors_torch.save_file(source.state_dict(), str(path))
    ours = build_model("resnet18", num_classes=CLASSES, stem_pool_padding="symmetric", weights=str(path))
    expected = _torch_logits(source)
    np.testing.assert_allclose(ours(IMAGES, training=False).numpy(), expected, rtol=1e-4,
                               atol=1e-4 * np.abs(expected).max())

"""Named presets of the model zoo (timm-style registry) and the public `build_model`."""

from __future__ import annotations

from typing import Any, Callable

import keras

from assembled_cnn.nets.config import ModelConfig, ModelConfigError
from assembled_cnn.nets.efficientnet_lite import VARIANTS, build_efficientnet_lite
from assembled_cnn.nets.efficientnet_lite import preset as efficientnet_lite_preset
from assembled_cnn.nets.mobilenet import build_mobilenet_v1, build_mobilenet_v2
from assembled_cnn.nets.resnet import build_resnet

_ASSEMBLED = dict(resnet_version=2, use_sk_block=True, anti_alias_type="sconv", anti_alias_filter_size=3,
                  zero_gamma=True, use_dropblock=True)

PRESETS: dict[str, dict[str, Any]] = {
    **{f"resnet{d}": dict(resnet_size=d) for d in (18, 34, 50, 101, 152, 200)},
    "resnet50d": dict(resnet_size=50, use_resnet_d=True),
    "se_resnet50": dict(resnet_size=50, use_se_block=True),
    "sk_resnet50": dict(resnet_size=50, use_sk_block=True),
    "resnet50d_sk": dict(resnet_size=50, use_resnet_d=True, use_sk_block=True),
    "resnet50_aa": dict(resnet_size=50, anti_alias_type="sconv", anti_alias_filter_size=3),
    "bl_resnet50": dict(resnet_size=50, resnet_version=2),
    # The released models (README + scripts/train_assemble_from_scratch.sh): use_resnet_d=False.
    "assemble_resnet50": dict(resnet_size=50, bl_alpha=2, bl_beta=4, **_ASSEMBLED),
    "assemble_resnet101": dict(resnet_size=101, bl_alpha=2, bl_beta=4, **_ASSEMBLED),
    "assemble_resnet152": dict(resnet_size=152, bl_alpha=1, bl_beta=2, **_ASSEMBLED),
    "mobilenet_v1": dict(architecture="mobilenet_v1"),
    "se_mobilenet_v1": dict(architecture="mobilenet_v1", use_se_block=True),
    "mobilenet_v2": dict(architecture="mobilenet_v2"),
    **{f"efficientnet_lite{v}": efficientnet_lite_preset(v) for v in VARIANTS},
}

_BUILDERS: dict[str, Callable[[ModelConfig], keras.Model]] = {
    "resnet": build_resnet,
    "mobilenet_v1": build_mobilenet_v1,
    "mobilenet_v2": build_mobilenet_v2,
    "efficientnet_lite": build_efficientnet_lite,
}


def list_models() -> list[str]:
    """Names accepted by `build_model(name)`."""
    return sorted(PRESETS)


def model_config(name: str | None = None, **hparams: Any) -> ModelConfig:
    """The preset's configuration with `hparams` overriding it (original flag names)."""
    values: dict[str, Any] = {}
    if name is not None:
        if name not in PRESETS:
            raise ModelConfigError(f"unknown model {name!r}; available: {', '.join(list_models())}")
        values.update(PRESETS[name])
    values.update({k: v for k, v in hparams.items() if v is not None})
    return ModelConfig.from_dict(values)


def build_model(name: str | None = None, config: ModelConfig | None = None, *, weights: str | None = None,
                skip_head: bool = False, **hparams: Any) -> keras.Model:
    """Build a network: `build_model('assemble_resnet50', num_classes=101)`, or from flags alone
    (`build_model(resnet_size=50, resnet_version=2, use_sk_block=True, ...)`), or from a config.

    Input: float NHWC images (the original's mean-subtracted RGB). Output: float32 logits, also
    under a mixed-precision policy. The penultimate features are the layer named `features`.

    weights: None (initialised), "imagenet" (the pinned download, EfficientNet-Lite0/1/2), or the
    path of a model_dir / checkpoint of ours, an original TF1 checkpoint, a PyTorch .pth/.pth.tar/
    .safetensors or a keras.applications .h5 (`assembled_cnn.weights.sources`). The report of every
    tensor used, missing or unexpected is printed and kept as `model.import_report`; `skip_head`
    keeps a fresh classifier. A file that does not fit is a one-line `UserError`.
    """
    if config is None:
        config = model_config(name, **hparams)
    elif name or hparams:
        raise ModelConfigError("pass either `config` or a preset name / hyper-parameters, not both")
    model = _BUILDERS[config.architecture](config)
    if weights is not None:
        from assembled_cnn.weights.sources import load_weights  # the weight readers stay out of the zoo

        model.import_report = load_weights(model, weights, skip_head=skip_head)
        print(model.import_report.summary())
    return model

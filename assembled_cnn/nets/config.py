"""Typed model configuration: the original project's model flags, validated in one place."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Optional

from assembled_cnn.errors import UserError
from assembled_cnn.settings import format_value, internal, setting

RESNET_BLOCKS = {
    1: {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3),
        152: (3, 8, 36, 3), 200: (3, 24, 36, 3)},
    # Big-Little (resnet_version=2) block counts of functions/model_fns.py:get_block_sizes.
    2: {50: (3, 4, 6, 3), 101: (4, 8, 18, 3), 152: (5, 12, 30, 3)},
}
BASIC_BLOCK_SIZES = (18, 34)
ARCHITECTURES = ("resnet", "mobilenet_v1", "mobilenet_v2", "efficientnet_lite")
POOL_TYPES = ("gap", "gem", "flatten")
LOGIT_TYPES = ("dense", "cosine")  # cosine: the cosine-softmax (ArcFace) classifier
ANTI_ALIAS_PARTS = ("sconv", "proj")
# The ResNet stem's 3x3/2 max-pool: TF "SAME" (the original: on even maps 0 before, 1 after) or
# torch's symmetric padding=1, which makes torchvision/timm weights import exactly.
STEM_POOL_PADDINGS = ("same", "symmetric")
# Strided k x k convs: the original's fixed padding ((k-1)//2 before, the rest after, whatever the
# map size) or TF "SAME" (on even maps one pixel less before): EfficientNet-Lite, keras.applications.
CONV_PADDINGS = ("fixed", "same")


class ModelConfigError(UserError):
    """A model hyper-parameter is invalid; the message names it and what is allowed."""


# --logit_type values: the original's names and ours.
LOGIT_TYPE_FLAG_VALUES = {"arcface": "cosine", "arc_margin": "cosine", "cosine": "cosine", "dense": "dense"}


def parse_logit_type(value: str) -> str:
    if value not in LOGIT_TYPE_FLAG_VALUES:
        raise ValueError("expected arcface (alias arc_margin) or unset")
    return LOGIT_TYPE_FLAG_VALUES[value]


def _model_flag(default: Any, help: str, group: str = "Model", **options: Any) -> Any:
    """A model field and its flag; an unset flag leaves the --model preset's value."""
    return setting(default, help, group, unset=f"the --model preset's, else {format_value(default)}", **options)


@dataclass
class ModelConfig:
    """Every knob of the network, named like the original absl flags."""

    architecture: str = internal("resnet", "the --model preset")
    resnet_size: int = _model_flag(50, "depth", short_name="rs", choices=("18", "34", "50", "101", "152", "200"),
                                   parse=int)
    resnet_version: int = _model_flag(1, "1: ResNet v1.5, 2: Big-Little", short_name="rv", choices=("1", "2"),
                                      parse=int)
    num_classes: int = internal(1001, "the dataset's dataset_info.json")
    num_filters: int = _model_flag(64, "stem width")
    use_resnet_d: bool = _model_flag(False, "ResNet-D stem and shortcuts")
    stem_stride: int = _model_flag(2, "stride of the first stem conv; 1 for small images (28-32 px): the maps after the "
                                   "stem are then those of a 2x upsampled image with the ImageNet stem, at a quarter "
                                   "of the input pixels", choices=("1", "2"), parse=int)
    use_se_block: bool = _model_flag(False, "SE blocks")
    se_ratio: int = _model_flag(16, "SE bottleneck reduction r (the paper's SE-MobileNet-V1 M7/M8: 2)")
    se_bias: bool = _model_flag(False, "biases on the SE 1x1 convs: the original has none, timm's seresnet has them "
                                "(exact import of timm seresnet weights)")
    use_sk_block: bool = _model_flag(False, "Selective Kernel units")
    anti_alias_type: str = _model_flag("", "sconv and/or proj")
    anti_alias_filter_size: int = _model_flag(0, "binomial blur size 1..7")
    bl_alpha: int = _model_flag(2, "Big-Little width divisor")
    bl_beta: int = _model_flag(4, "Big-Little depth divisor")
    zero_gamma: bool = _model_flag(False, "zero-init the last BN of each branch")
    use_dropblock: bool = _model_flag(False, "DropBlock in stages 3-4")
    dropblock_block_size: int = internal(7, "the original's block size")
    dropblock_shared_mask: bool = internal(True, "the original's mask shared over channels")
    bn_momentum: float = _model_flag(0.997, "BN moving-average decay (short runs: 0.9, see docs/training.md)")
    bn_epsilon: float = internal(1e-5, "the original's")
    sync_bn: bool = _model_flag(False, "BN statistics over all replicas and workers")
    pool_type: str = _model_flag("gap", "gap, gem or flatten")
    stem_pool_padding: str = _model_flag("same", "stem max-pool padding; symmetric as torch (exact import of "
                                         "torchvision/timm ResNets)", choices=STEM_POOL_PADDINGS)
    resnet_d_stride1_pool: bool = _model_flag(True, "ResNet-D avg-pools the stride-1 shortcut too (the original; "
                                              "timm does not)")
    conv_padding: str = _model_flag("fixed", "fixed: the original's explicit padding; same: TF SAME "
                                    "(keras.applications and EfficientNet-Lite weights)", choices=CONV_PADDINGS)
    embedding_size: int = _model_flag(0, "embedding before the classifier")
    no_downsample: bool = _model_flag(False, "last stage stride 1")
    width_multiplier: float = _model_flag(1.0, "MobileNet width")
    depth_multiplier: float = _model_flag(1.0, "EfficientNet-Lite: repeats per stage scaled by this")
    dropout_rate: float = _model_flag(0.0, "dropout before the classifier")
    logit_type: str = _model_flag("dense", "arcface (or the original's arc_margin): cosine-softmax head",
                                  "Heads and retrieval", parse=parse_logit_type)
    cosine_scale: float = internal(30.0, "--arc_s when --logit_type=arcface")  # s of the cosine logits
    logit_bias_init: float = internal(0.0, "the original: -log(C - 1) for sigmoid/focal losses")
    input_size: Optional[int] = internal(None, "the preprocessing's image size")
    tf1_scope: str = internal("resnet_model", "the original checkpoints' variable scope")

    def __post_init__(self):
        self.resnet_size = int(self.resnet_size)
        self.resnet_version = int(self.resnet_version)
        self.validate()

    @property
    def anti_alias_parts(self) -> frozenset[str]:
        """The original tests `'sconv' in anti_alias_type`; we parse the comma list once."""
        return frozenset(p.strip() for p in self.anti_alias_type.replace("+", ",").split(",") if p.strip())

    @property
    def block_counts(self) -> tuple[int, ...]:
        return RESNET_BLOCKS[self.resnet_version][self.resnet_size]

    @property
    def uses_bottleneck(self) -> bool:
        return self.resnet_size not in BASIC_BLOCK_SIZES

    def validate(self) -> None:
        _check(self.architecture in ARCHITECTURES, "architecture", self.architecture, ARCHITECTURES)
        _check(self.pool_type in POOL_TYPES, "pool_type", self.pool_type, POOL_TYPES)
        _check(self.conv_padding in CONV_PADDINGS, "conv_padding", self.conv_padding, CONV_PADDINGS)
        _check(self.se_ratio >= 1, "se_ratio", self.se_ratio, "an integer >= 1")
        _check(self.stem_pool_padding in STEM_POOL_PADDINGS, "stem_pool_padding", self.stem_pool_padding,
               STEM_POOL_PADDINGS)
        _check(self.logit_type in LOGIT_TYPES, "logit_type", self.logit_type, LOGIT_TYPES)
        _check(self.cosine_scale > 0, "cosine_scale", self.cosine_scale, "> 0")
        _check(self.num_classes >= 1, "num_classes", self.num_classes, "an integer >= 1")
        _check(self.num_filters >= 2, "num_filters", self.num_filters, "an integer >= 2")
        _check(0.0 <= self.bn_momentum < 1.0, "bn_momentum", self.bn_momentum, "[0, 1)")
        _check(self.stem_stride in (1, 2), "stem_stride", self.stem_stride, "1 or 2")
        _check(self.stem_stride == 2 or (self.architecture == "resnet" and self.resnet_version == 1), "stem_stride",
               self.stem_stride, "2 except for ResNet v1 (resnet_version=1)")
        if self.architecture != "resnet":
            return
        versions = RESNET_BLOCKS.get(self.resnet_version)
        _check(versions is not None, "resnet_version", self.resnet_version, "1 (ResNet v1.5) or 2 (Big-Little)")
        _check(self.resnet_size in versions, "resnet_size", self.resnet_size,
               f"one of {sorted(versions)} for resnet_version={self.resnet_version}")
        unknown = self.anti_alias_parts - set(ANTI_ALIAS_PARTS)
        _check(not unknown, "anti_alias_type", self.anti_alias_type, "'', 'sconv', 'proj' or 'sconv,proj'")
        if self.anti_alias_parts:
            _check(1 <= self.anti_alias_filter_size <= 7, "anti_alias_filter_size",
                   self.anti_alias_filter_size, "1..7 when anti_alias_type is set")
        _check(self.bl_alpha >= 1 and self.bl_beta >= 1, "bl_alpha/bl_beta",
               (self.bl_alpha, self.bl_beta), "integers >= 1")
        _check(self.dropblock_block_size >= 1, "dropblock_block_size", self.dropblock_block_size, ">= 1")
        if self.resnet_version == 2 and self.input_size is not None:
            _check(self.input_size % 32 == 0, "input_size", self.input_size,
                   "a multiple of 32 for Big-Little (resnet_version=2): its branches are merged by 2x upsampling")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ModelConfig":
        values = {k: v for k, v in values.items() if k != "extra"}  # an unused field of older model_dirs
        unknown = sorted(set(values) - set(cls.field_names()))
        if unknown:
            raise ModelConfigError(
                f"unknown model hyper-parameter(s) {unknown}; valid names are {cls.field_names()}")
        return cls(**values)


def _check(ok: bool, name: str, value: Any, allowed: Any) -> None:
    if not ok:
        raise ModelConfigError(f"invalid model hyper-parameter {name}={value!r}: expected {allowed}")

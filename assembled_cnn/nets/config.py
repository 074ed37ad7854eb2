"""Typed model configuration: the original project's model flags, validated in one place."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any, Optional

from assembled_cnn.errors import UserError

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


@dataclass
class ModelConfig:
    """Every knob of the network, named like the original absl flags."""

    architecture: str = "resnet"
    resnet_size: int = 50
    resnet_version: int = 1
    num_classes: int = 1001
    num_filters: int = 64
    use_resnet_d: bool = False
    use_se_block: bool = False
    se_ratio: int = 16  # SE bottleneck reduction r (the paper's SE-MobileNet-V1 M7/M8 use r=2)
    se_bias: bool = False  # biases on the SE 1x1 convs: the original has none, timm's seresnet has them
    use_sk_block: bool = False
    anti_alias_type: str = ""
    anti_alias_filter_size: int = 0
    bl_alpha: int = 2
    bl_beta: int = 4
    zero_gamma: bool = False
    use_dropblock: bool = False
    dropblock_block_size: int = 7
    dropblock_shared_mask: bool = True
    bn_momentum: float = 0.997
    bn_epsilon: float = 1e-5
    sync_bn: bool = False  # batch statistics over all replicas (multi-GPU / multi-worker)
    pool_type: str = "gap"
    stem_pool_padding: str = "same"
    resnet_d_stride1_pool: bool = True  # the original's ResNet-D avg-pools the stride-1 shortcut too; timm does not
    conv_padding: str = "fixed"
    embedding_size: int = 0
    no_downsample: bool = False
    width_multiplier: float = 1.0
    depth_multiplier: float = 1.0  # EfficientNet-Lite: repeats per stage scaled by ceil(depth · n)
    dropout_rate: float = 0.0
    logit_type: str = "dense"
    cosine_scale: float = 30.0     # s of the cosine logits (the original's --arc_s)
    logit_bias_init: float = 0.0   # the original: -log(C - 1) for sigmoid/focal losses
    input_size: Optional[int] = None
    tf1_scope: str = "resnet_model"

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

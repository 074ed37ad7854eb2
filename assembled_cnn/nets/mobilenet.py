"""MobileNet v1 (Howard et al. 2017) and v2 (Sandler et al. 2018) with a width multiplier.

Used by the transfer-learning study and the paper's MobileNet ablation (SE-MobileNet-V1 via
`use_se_block`). The original repository has no MobileNet code, so layout follows the papers.
"""

from __future__ import annotations

import keras

from assembled_cnn.nets.config import ModelConfig
from assembled_cnn.nets.factory import LayerFactory, tf1_kernel_initializer
from assembled_cnn.nets.model_info import attach_model_info
from assembled_cnn.nets.resnet import classification_head
from assembled_cnn.nets.big_little import dropblock_gamma_scale
from assembled_cnn.nets.squeeze_excite import squeeze_excite

# (output channels, stride) of the 13 depthwise-separable blocks of MobileNet v1.
V1_BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1),
             (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1))
# (expansion t, output channels c, repeats n, first stride s) of MobileNet v2.
V2_BLOCKS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
             (6, 160, 3, 2), (6, 320, 1, 1))


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round channels to a multiple of `divisor`, never dropping more than 10 %."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _relu6(x, name):
    return keras.layers.ReLU(6.0, name=name)(x)


def _depthwise_bn_relu6(f: LayerFactory, x, strides: int, *, name: str, kernel: int = 3):
    fixed = strides > 1 and f.config.conv_padding == "fixed"
    if fixed:
        x = keras.layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
    x = keras.layers.DepthwiseConv2D(kernel, strides, padding="valid" if fixed else "same", use_bias=False,
                                     depthwise_initializer=tf1_kernel_initializer(), name=name)(x)
    f.namer.record(name, "depthwise_conv2d")
    return _relu6(f.bn(x, name=f"{name}_bn"), f"{name}_relu")


def pointwise_bn(f: LayerFactory, x, filters: int, *, name: str, relu: bool = True):
    x = f.bn(f.conv(x, filters, 1, name=name), name=f"{name}_bn")
    return _relu6(x, f"{name}_relu") if relu else x


def _stem(config: ModelConfig):
    """Both versions start with a 3x3/2 conv of 32·alpha channels, BN, ReLU6."""
    f = LayerFactory(config)
    inputs = keras.Input(shape=(config.input_size, config.input_size, 3), name="images")
    x = f.conv(inputs, make_divisible(32 * config.width_multiplier), 3, 2, name="stem_conv")
    return f, inputs, _relu6(f.bn(x, name="stem_conv_bn"), "stem_conv_relu")


def build_mobilenet_v1(config: ModelConfig) -> keras.Model:
    """With `use_dropblock`, DropBlock follows the pointwise BN of the 14x14 blocks (1/4 rate) and
    the 7x7 blocks (full rate): the ResNets' stages 3-4 placement (the paper's M8)."""
    f, inputs, x = _stem(config)
    alpha, level = config.width_multiplier, 0
    for i, (filters, strides) in enumerate(V1_BLOCKS):
        level += strides == 2  # resolution level: 112 → 56 → 28 → 14 → 7 px at 224
        x = _depthwise_bn_relu6(f, x, strides, name=f"b{i}_dw")
        x = pointwise_bn(f, x, make_divisible(filters * alpha), name=f"b{i}_pw")
        with f.dropblock_stage(dropblock_gamma_scale(level - 1)):
            x = f.dropblock(x, name=f"b{i}_pw")
        if config.use_se_block:
            x = squeeze_excite(f, x, name=f"b{i}_se", ratio=config.se_ratio)
    model = keras.Model(inputs, classification_head(f, x), name="mobilenet_v1")
    return attach_model_info(model, config, f.namer.layer_to_tf1, f.keep_prob)


def inverted_residual(f: LayerFactory, x, expansion: int, filters: int, strides: int, *, name: str,
                      kernel: int = 3):
    """[1x1 expand] -> k x k depthwise -> 1x1 linear projection, identity skip when shapes match
    (MobileNet v2; EfficientNet-Lite's MBConv, which has no SE)."""
    in_channels = x.shape[-1]
    y = x
    if expansion != 1:
        y = pointwise_bn(f, y, in_channels * expansion, name=f"{name}_expand")
    y = _depthwise_bn_relu6(f, y, strides, name=f"{name}_dw", kernel=kernel)
    y = pointwise_bn(f, y, filters, name=f"{name}_project", relu=False)
    if strides == 1 and in_channels == filters:
        y = keras.layers.Add(name=f"{name}_add")([x, y])
    return y


def build_mobilenet_v2(config: ModelConfig) -> keras.Model:
    f, inputs, x = _stem(config)
    alpha = config.width_multiplier
    block = 0
    for expansion, channels, repeats, first_stride in V2_BLOCKS:
        for r in range(repeats):
            x = inverted_residual(f, x, expansion, make_divisible(channels * alpha),
                                   first_stride if r == 0 else 1, name=f"b{block}")
            block += 1
    x = pointwise_bn(f, x, make_divisible(1280 * max(1.0, alpha)), name="head_conv")
    model = keras.Model(inputs, classification_head(f, x), name="mobilenet_v2")
    return attach_model_info(model, config, f.namer.layer_to_tf1, f.keep_prob)

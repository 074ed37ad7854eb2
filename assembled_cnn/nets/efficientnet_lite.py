"""EfficientNet-Lite0..4 (Tan & Le 2019; the "Lite" edge variants of Google's TF repository).

Lite differs from EfficientNet-B*: no squeeze-excitation, ReLU6 instead of swish, and the stem
(32 channels), the head (1280) and the repeats of the first and last stage are not scaled.
Convs use TF "SAME" padding (a strided conv on an even map pads one pixel more after than
before), as the official TF model and the PyTorch port of its weights do; the ResNets' fixed
symmetric padding would shift every strided conv by one pixel. BN eps 1e-3.
"""

from __future__ import annotations

import math

import keras

from assembled_cnn.nets.config import ModelConfig
from assembled_cnn.nets.factory import LayerFactory, tf1_kernel_initializer
from assembled_cnn.nets.layers.pointwise_conv import PointwiseConv2D
from assembled_cnn.nets.mobilenet import make_divisible
from assembled_cnn.nets.model_info import attach_model_info
from assembled_cnn.nets.resnet import classification_head

# (expansion, kernel, first stride, output channels, repeats) of the 7 stages, as in B0.
STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
          (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
# width, depth, resolution, dropout of the published variants.
VARIANTS = {0: (1.0, 1.0, 224, 0.2), 1: (1.0, 1.1, 240, 0.2), 2: (1.1, 1.2, 260, 0.3),
            3: (1.2, 1.4, 280, 0.3), 4: (1.4, 1.8, 300, 0.3)}


def stage_repeats(config: ModelConfig) -> list[int]:
    """Repeats per stage: ceil(depth · n), except the first and last stage (fixed in Lite)."""
    last = len(STAGES) - 1
    return [n if i in (0, last) else int(math.ceil(config.depth_multiplier * n))
            for i, (*_, n) in enumerate(STAGES)]


def _conv(f: LayerFactory, x, filters: int, kernel: int, strides: int = 1, *, name: str):
    common = dict(strides=strides, use_bias=False, kernel_initializer=tf1_kernel_initializer(), name=name)
    layer = PointwiseConv2D(filters, **common) if kernel == 1 else keras.layers.Conv2D(
        filters, kernel, padding="same", **common)
    f.namer.record(name, "conv2d")
    return layer(x)


def _bn_relu6(f: LayerFactory, x, *, name: str, relu: bool = True):
    x = f.bn(x, name=f"{name}_bn")
    return keras.layers.ReLU(6.0, name=f"{name}_relu")(x) if relu else x


def _mbconv(f: LayerFactory, x, expansion: int, kernel: int, strides: int, filters: int, *, name: str):
    """Inverted residual: [1x1 expand] -> kxk depthwise -> 1x1 project, identity skip when shapes match."""
    in_channels = x.shape[-1]
    y = x
    if expansion != 1:
        y = _bn_relu6(f, _conv(f, y, in_channels * expansion, 1, name=f"{name}_expand"), name=f"{name}_expand")
    y = keras.layers.DepthwiseConv2D(kernel, strides, padding="same", use_bias=False,
                                     depthwise_initializer=tf1_kernel_initializer(), name=f"{name}_dw")(y)
    f.namer.record(f"{name}_dw", "depthwise_conv2d")
    y = _bn_relu6(f, y, name=f"{name}_dw")
    y = _bn_relu6(f, _conv(f, y, filters, 1, name=f"{name}_project"), name=f"{name}_project", relu=False)
    if strides == 1 and in_channels == filters:
        y = keras.layers.Add(name=f"{name}_add")([x, y])
    return y


def build_efficientnet_lite(config: ModelConfig) -> keras.Model:
    f = LayerFactory(config)
    inputs = keras.Input(shape=(config.input_size, config.input_size, 3), name="images")
    x = _bn_relu6(f, _conv(f, inputs, STEM_CHANNELS, 3, 2, name="stem_conv"), name="stem_conv")
    block = 0
    for (expansion, kernel, stride, channels, _), repeats in zip(STAGES, stage_repeats(config)):
        for r in range(repeats):
            x = _mbconv(f, x, expansion, kernel, stride if r == 0 else 1,
                        make_divisible(channels * config.width_multiplier), name=f"b{block}")
            block += 1
    x = _bn_relu6(f, _conv(f, x, HEAD_CHANNELS, 1, name="head_conv"), name="head_conv")
    model = keras.Model(inputs, classification_head(f, x), name="efficientnet_lite")
    return attach_model_info(model, config, f.namer.layer_to_tf1, f.keep_prob)


def preset(variant: int) -> dict:
    width, depth, _, dropout = VARIANTS[variant]
    return dict(architecture="efficientnet_lite", width_multiplier=width, depth_multiplier=depth,
                dropout_rate=dropout, bn_epsilon=1e-3, bn_momentum=0.99, num_classes=1000)

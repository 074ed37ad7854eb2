"""EfficientNet-Lite0..4 (Tan & Le 2019; the "Lite" edge variants of Google's TF repository).

Lite differs from EfficientNet-B*: no squeeze-excitation, ReLU6 instead of swish, and the stem
(32 channels), the head (1280) and the repeats of the first and last stage are not scaled.
The blocks are MobileNet v2's inverted residuals with a 3x3 or 5x5 depthwise conv. Convs use TF
"SAME" padding (`conv_padding="same"`: a strided conv on an even map pads one pixel more after
than before), as the official TF model and the PyTorch port of its weights do; the original's
fixed symmetric padding would shift every strided conv by one pixel. BN eps 1e-3.
"""

from __future__ import annotations

import math

import keras

from assembled_cnn.nets.config import ModelConfig
from assembled_cnn.nets.factory import LayerFactory
from assembled_cnn.nets.mobilenet import inverted_residual, make_divisible, pointwise_bn
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


def build_efficientnet_lite(config: ModelConfig) -> keras.Model:
    f = LayerFactory(config)
    inputs = keras.Input(shape=(config.input_size, config.input_size, 3), name="images")
    x = f.bn(f.conv(inputs, STEM_CHANNELS, 3, 2, name="stem_conv"), name="stem_conv_bn")
    x = keras.layers.ReLU(6.0, name="stem_conv_relu")(x)
    block = 0
    for (expansion, kernel, stride, channels, _), repeats in zip(STAGES, stage_repeats(config)):
        for r in range(repeats):
            x = inverted_residual(f, x, expansion, make_divisible(channels * config.width_multiplier),
                                  stride if r == 0 else 1, name=f"b{block}", kernel=kernel)
            block += 1
    x = pointwise_bn(f, x, HEAD_CHANNELS, name="head_conv")
    model = keras.Model(inputs, classification_head(f, x), name="efficientnet_lite")
    return attach_model_info(model, config, f.namer.layer_to_tf1, f.keep_prob)


def preset(variant: int) -> dict:
    width, depth, _, dropout = VARIANTS[variant]
    return dict(architecture="efficientnet_lite", width_multiplier=width, depth_multiplier=depth,
                dropout_rate=dropout, bn_epsilon=1e-3, bn_momentum=0.99, num_classes=1000, conv_padding="same")

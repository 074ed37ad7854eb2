"""The ResNet family of the original: v1.5 (`resnet_version=1`) and Big-Little (`=2`),
with every assembled tweak switched by `ModelConfig`. Knows nothing about training."""

from __future__ import annotations

import keras

from assembled_cnn.nets.big_little import big_little_body, big_little_stem, dropblock_gamma_scale
from assembled_cnn.nets.blocks import block_layer
from assembled_cnn.nets.config import ModelConfig
from assembled_cnn.nets.factory import LayerFactory
from assembled_cnn.nets.layers import CosineLogits, GlobalPool
from assembled_cnn.nets.model_info import attach_model_info

V1_STRIDES = (1, 2, 2, 2)


def v1_stem(f: LayerFactory, x):
    """7x7/2 conv (or the ResNet-C/D deep 3x3 stem) -> BN -> ReLU -> 3x3/2 max-pool; `stem_stride=1`
    keeps small images at full resolution through the first conv."""
    nf = f.config.num_filters
    stride = f.config.stem_stride
    if f.config.use_resnet_d:
        x = f.conv_bn_relu(x, nf // 2, 3, stride, name="stem_conv1")
        x = f.conv_bn_relu(x, nf // 2, 3, 1, name="stem_conv2")
        x = f.conv_bn_relu(x, nf, 3, 1, name="stem_conv3")
    else:
        x = f.conv_bn_relu(x, nf, 7, stride, name="stem_conv")
    if f.config.stem_pool_padding == "symmetric":  # torch's padding=1; zeros equal -inf after the ReLU
        x = keras.layers.ZeroPadding2D(1, name="stem_pool_pad")(x)
        return keras.layers.MaxPooling2D(3, 2, padding="valid", name="stem_pool")(x)
    return keras.layers.MaxPooling2D(3, 2, padding="same", name="stem_pool")(x)


def v1_body(f: LayerFactory, x):
    cfg = f.config
    kind = "resnet_d" if cfg.use_resnet_d else "plain"
    strides = list(V1_STRIDES)
    if cfg.no_downsample:
        strides[3] = 1
    for stage, blocks in enumerate(cfg.block_counts):
        with f.dropblock_stage(dropblock_gamma_scale(stage)):
            x = block_layer(f, x, cfg.num_filters * 2 ** stage, blocks, strides[stage], kind,
                            name=f"s{stage + 1}")
    return x


def classification_head(f: LayerFactory, x):
    """Pool (GAP / GeM / flatten) -> optional embedding (1x1 conv, BN, ReLU) -> logits.

    The pooled (or embedded, before its ReLU) features are the layer named `features`, the
    retrieval embedding. Logits are float32: a dense layer (bias initialised to
    `logit_bias_init`), or with `logit_type="cosine"` the scaled cosines of `features` (no ReLU).
    """
    cfg = f.config
    if cfg.pool_type == "flatten":
        x = keras.layers.Flatten(name="pool")(x)
    else:
        x = GlobalPool(cfg.pool_type, keepdims=cfg.embedding_size > 0, name="pool")(x)
    if cfg.embedding_size > 0:
        if cfg.pool_type == "flatten":
            x = keras.layers.Reshape((1, 1, -1), name="pool_reshape")(x)
        x = f.conv(x, cfg.embedding_size, 1, name="embedding", tf1_base="embedding_dense")
        x = f.bn(x, name="embedding_bn")
        x = keras.layers.Flatten(name="embedding_flatten")(x)
    x = keras.layers.Activation("linear", name="features")(x)
    if cfg.embedding_size > 0 and cfg.logit_type == "dense":
        x = f.relu(x, name="embedding_relu")
    if cfg.dropout_rate > 0:
        x = keras.layers.Dropout(cfg.dropout_rate, name="head_dropout")(x)
    if cfg.logit_type == "cosine":
        return CosineLogits(cfg.num_classes, cfg.cosine_scale, name="logits")(x)
    dense = keras.layers.Dense(cfg.num_classes, dtype="float32", name="logits", kernel_initializer="glorot_uniform",
                               bias_initializer=keras.initializers.Constant(cfg.logit_bias_init))
    f.namer.record("logits", "dense")
    return dense(x)


def build_resnet(config: ModelConfig) -> keras.Model:
    """ResNet v1.5 or Big-Little ResNet as a functional Keras model: float NHWC in, logits out."""
    f = LayerFactory(config)
    size = config.input_size
    inputs = keras.Input(shape=(size, size, 3), name="images")
    if config.resnet_version == 2:
        x = big_little_body(f, big_little_stem(f, inputs))
    else:
        x = v1_body(f, v1_stem(f, inputs))
    logits = classification_head(f, x)
    model = keras.Model(inputs, logits, name=_model_name(config))
    return attach_model_info(model, config, f.namer.layer_to_tf1, f.keep_prob)


def _model_name(config: ModelConfig) -> str:
    family = "bl_resnet" if config.resnet_version == 2 else "resnet"
    return f"{family}{config.resnet_size}"

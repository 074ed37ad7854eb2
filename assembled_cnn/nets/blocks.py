"""Residual blocks and block layers shared by ResNet v1.5 and Big-Little (`nets/resnet_model.py`).

Layers are created in the original's order (shortcut first, then the branch), which is what
makes the TF1 checkpoint names come out right.
"""

from __future__ import annotations

import keras

from assembled_cnn.nets.factory import LayerFactory
from assembled_cnn.nets.layers import BlurPool2D
from assembled_cnn.nets.selective_kernel import selective_kernel_unit
from assembled_cnn.nets.squeeze_excite import squeeze_excite

BOTTLENECK_EXPANSION = 4
SHORTCUT_KINDS = ("plain", "resnet_d", "big_little")


def projection_shortcut(f: LayerFactory, x, out_filters: int, strides: int, kind: str, *, name: str):
    """The three projections of `block_layer`, then BN and DropBlock."""
    cfg = f.config
    if kind == "resnet_d":
        if strides > 1:  # fixed_padding(2) = pad 0 before / 1 after, avg-pool 2x2 VALID
            x = keras.layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"{name}_pool_pad")(x)
            x = keras.layers.AveragePooling2D(2, strides, padding="valid", name=f"{name}_pool")(x)
        elif cfg.resnet_d_stride1_pool:  # QUIRK kept for checkpoint fidelity: the original pools at stride 1
            x = keras.layers.AveragePooling2D(2, 1, padding="same", name=f"{name}_pool")(x)
        strides = 1
    elif kind == "big_little":
        if strides > 1:  # fixed_padding(3) = 1/1, avg-pool 3x3 stride 2 VALID (zeros counted)
            x = keras.layers.ZeroPadding2D(((1, 1), (1, 1)), name=f"{name}_pool_pad")(x)
            x = keras.layers.AveragePooling2D(3, strides, padding="valid", name=f"{name}_pool")(x)
        strides = 1
    elif "proj" in cfg.anti_alias_parts and strides > 1:
        x = BlurPool2D(cfg.anti_alias_filter_size, strides, name=f"{name}_blur")(x)
        strides = 1
    x = f.conv(x, out_filters, 1, strides, name=f"{name}_proj")
    x = f.bn(x, name=f"{name}_proj_bn")
    return f.dropblock(x, name=f"{name}_proj")


def _middle_conv(f: LayerFactory, x, filters: int, strides: int, *, name: str):
    """3x3 conv or SK unit; with `sconv` anti-aliasing it runs at stride 1 and a blur strides."""
    cfg = f.config
    blur = "sconv" in cfg.anti_alias_parts and strides > 1
    conv_strides = 1 if blur else strides
    if cfg.use_sk_block:
        x = selective_kernel_unit(f, x, filters, conv_strides, name=f"{name}_sk")
        x = f.dropblock(x, name=f"{name}_sk")
    else:
        x = f.conv(x, filters, 3, conv_strides, name=f"{name}_conv2")
        x = f.bn(x, name=f"{name}_conv2_bn")
        x = f.dropblock(x, name=f"{name}_conv2")
        x = f.relu(x, name=f"{name}_conv2_relu")
    if blur:
        x = BlurPool2D(cfg.anti_alias_filter_size, strides, name=f"{name}_blur")(x)
    return x


def _finish_block(f: LayerFactory, y, shortcut, *, name: str, last_relu: bool):
    """Last BN (zero-gamma) -> DropBlock -> SE -> add -> ReLU."""
    y = f.bn(y, name=f"{name}_conv3_bn", zero_init=True)
    y = f.dropblock(y, name=f"{name}_conv3")
    if f.config.use_se_block:
        y = squeeze_excite(f, y, name=f"{name}_se", ratio=f.config.se_ratio)
    y = keras.layers.Add(name=f"{name}_add")([y, shortcut])
    return f.relu(y, name=f"{name}_out") if last_relu else y


def bottleneck_block(f: LayerFactory, x, filters: int, strides: int, shortcut_kind: str | None,
                     *, name: str, last_relu: bool = True):
    """`_bottleneck_block_v1`: 1x1 -> 3x3 (stride here: "v1.5") -> 1x1 (4F), post-activation."""
    out_filters = BOTTLENECK_EXPANSION * filters
    shortcut = x
    if shortcut_kind:
        shortcut = projection_shortcut(f, x, out_filters, strides, shortcut_kind, name=name)
    y = f.conv(x, filters, 1, name=f"{name}_conv1")
    y = f.bn(y, name=f"{name}_conv1_bn")
    y = f.dropblock(y, name=f"{name}_conv1")
    y = f.relu(y, name=f"{name}_conv1_relu")
    y = _middle_conv(f, y, filters, strides, name=name)
    y = f.conv(y, out_filters, 1, name=f"{name}_conv3")
    return _finish_block(f, y, shortcut, name=name, last_relu=last_relu)


def basic_block(f: LayerFactory, x, filters: int, strides: int, shortcut_kind: str | None,
                *, name: str, last_relu: bool = True):
    """Two 3x3 convs (ResNet-18/34). The original has no basic block; the assembled tweaks
    (SK on the first conv, sconv blur, SE, DropBlock, zero-gamma) apply as in the bottleneck."""
    shortcut = x
    if shortcut_kind:
        shortcut = projection_shortcut(f, x, filters, strides, shortcut_kind, name=name)
    y = _middle_conv(f, x, filters, strides, name=name)
    y = f.conv(y, filters, 3, name=f"{name}_conv3")
    return _finish_block(f, y, shortcut, name=name, last_relu=last_relu)


def block_layer(f: LayerFactory, x, filters: int, num_blocks: int, strides: int, shortcut_kind: str,
                *, name: str, last_relu: bool = True):
    """A stage of `num_blocks` blocks; the first one strides and projects.

    Bottleneck stages project on their first block even when shapes match (the original);
    basic stages project only when the shape changes (torchvision/timm ResNet-18/34).
    """
    bottleneck = f.config.uses_bottleneck
    block = bottleneck_block if bottleneck else basic_block
    for i in range(num_blocks):
        first = i == 0
        needs_projection = bottleneck or strides > 1 or x.shape[-1] != filters
        kind = shortcut_kind if first and needs_projection else None
        relu = last_relu or i < num_blocks - 1
        x = block(f, x, filters, strides if first else 1, kind, name=f"{name}_b{i}", last_relu=relu)
    return x

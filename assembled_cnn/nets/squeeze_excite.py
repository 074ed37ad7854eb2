"""Squeeze-and-Excitation (Hu et al.), r=16, as `nets/blocks.py:se_block`."""

from __future__ import annotations

import keras

from assembled_cnn.nets.factory import LayerFactory
from assembled_cnn.nets.layers import GlobalPool


def squeeze_excite(f: LayerFactory, x, *, name: str, ratio: int = 16):
    """GAP -> 1x1 conv (C/r) -> ReLU -> 1x1 conv (C) -> sigmoid -> rescale x.

    The original's convs have no bias; `se_bias=True` adds them, as timm's `SEModule` has."""
    channels, bias = x.shape[-1], f.config.se_bias
    with f.namer.scope("se_block", uniquify=True):
        s = GlobalPool("gap", keepdims=True, name=f"{name}_squeeze")(x)
        s = f.conv(s, max(1, channels // ratio), 1, name=f"{name}_reduce", tf1_base="seblock_dense_1",
                   use_bias=bias)
        s = f.relu(s, name=f"{name}_reduce_relu")
        s = f.conv(s, channels, 1, name=f"{name}_expand", tf1_base="seblock_dense_2",
                   use_bias=bias)
    s = keras.layers.Activation("sigmoid", name=f"{name}_gate")(s)
    return keras.layers.Multiply(name=f"{name}_scale")([x, s])

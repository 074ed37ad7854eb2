"""Squeeze-and-Excitation (Hu et al.), r=16, as `nets/blocks.py:se_block`."""

from __future__ import annotations

import keras

from assembled_cnn.nets.factory import LayerFactory
from assembled_cnn.nets.layers import GlobalPool


def squeeze_excite(f: LayerFactory, x, *, name: str, ratio: int = 16):
    """GAP -> 1x1 conv (C/r) -> ReLU -> 1x1 conv (C) -> sigmoid -> rescale x."""
    channels = x.shape[-1]
    with f.namer.scope("se_block", uniquify=True):
        s = GlobalPool("gap", keepdims=True, name=f"{name}_squeeze")(x)
        s = f.conv(s, max(1, channels // ratio), 1, name=f"{name}_reduce", tf1_base="seblock_dense_1")
        s = f.relu(s, name=f"{name}_reduce_relu")
        s = f.conv(s, channels, 1, name=f"{name}_expand", tf1_base="seblock_dense_2")
    s = keras.layers.Activation("sigmoid", name=f"{name}_gate")(s)
    return keras.layers.Multiply(name=f"{name}_scale")([x, s])

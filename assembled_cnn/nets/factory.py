"""Creates the primitive layers of a network with both a Keras name and the original TF1 name.

Every network builder goes through one `LayerFactory`, so that initialisers, BN settings,
the original's fixed padding, DropBlock placement and checkpoint naming are decided once.
"""

from __future__ import annotations

import contextlib
import itertools

import keras

from assembled_cnn.nets.config import ModelConfig
from assembled_cnn.nets.layers import BatchNorm, DropBlock, KeepProbability
from assembled_cnn.nets.layers.padded_conv import FixedPaddingConv2D
from assembled_cnn.nets.layers.pointwise_conv import PointwiseConv2D
from assembled_cnn.nets.naming import Tf1Namer


def fixed_padding(kernel_size: int) -> tuple[int, int]:
    """The original's padding for strided convs, independent of the input size."""
    before = (kernel_size - 1) // 2
    return before, kernel_size - 1 - before


def tf1_kernel_initializer():
    """`tf.variance_scaling_initializer()` of TF1: scale 1, fan_in, truncated normal."""
    return keras.initializers.VarianceScaling(scale=1.0, mode="fan_in", distribution="truncated_normal")


class LayerFactory:
    """Conv / BN / ReLU / DropBlock constructors bound to one model's config and namer."""

    def __init__(self, config: ModelConfig, namer: Tf1Namer | None = None):
        self.config = config
        self.namer = namer or Tf1Namer(config.tf1_scope)
        self.keep_prob = KeepProbability(1.0)
        self._dropblock_gamma_scale = 0.0  # of the stage being built: see `dropblock_stage`
        self._seeds = itertools.count(1)

    def conv(self, x, filters: int, kernel_size: int, strides: int = 1, *, name: str,
             tf1_base: str = "conv2d", use_bias: bool = False):
        """`conv2d_fixed_padding`: the original's fixed pad + VALID when strided, SAME otherwise; no bias
        unless asked. With `conv_padding="same"` strided convs pad as TF "SAME" instead."""
        common = dict(strides=strides, use_bias=use_bias, kernel_initializer=tf1_kernel_initializer(), name=name)
        if kernel_size == 1:  # no padding either way; a matmul on small maps
            layer = PointwiseConv2D(filters, **common)
        elif self.config.conv_padding == "same":
            layer = keras.layers.Conv2D(filters, kernel_size, padding="same", **common)
        else:  # at stride 1 the fixed padding is SAME padding
            layer = FixedPaddingConv2D(filters, kernel_size, pad=fixed_padding(kernel_size), **common)
        self.namer.record(name, tf1_base)
        return layer(x)

    def bn(self, x, *, name: str, zero_init: bool = False):
        """BN with eps 1e-5; gamma starts at 0 for the last BN of a branch under `zero_gamma`."""
        gamma_init = "zeros" if (zero_init and self.config.zero_gamma) else "ones"
        layer = BatchNorm(momentum=self.config.bn_momentum, epsilon=self.config.bn_epsilon,
                          gamma_initializer=gamma_init, synchronized=self.config.sync_bn, name=name)
        self.namer.record(name, "batch_normalization")
        return layer(x)

    @staticmethod
    def relu(x, *, name: str):
        return keras.layers.ReLU(name=name)(x)

    def conv_bn_relu(self, x, filters: int, kernel_size: int, strides: int = 1, *, name: str,
                     relu: bool = True):
        x = self.conv(x, filters, kernel_size, strides, name=name)
        x = self.bn(x, name=f"{name}_bn")
        return self.relu(x, name=f"{name}_relu") if relu else x

    @contextlib.contextmanager
    def dropblock_stage(self, gamma_scale: float):
        """Blocks built inside get DropBlock at `gamma_scale` (0: none); the stage's placement rule
        comes from its builder, so block code stays the same in every stage."""
        outer, self._dropblock_gamma_scale = self._dropblock_gamma_scale, float(gamma_scale)
        try:
            yield
        finally:
            self._dropblock_gamma_scale = outer

    def dropblock(self, x, *, name: str):
        """DropBlock after a BN, inside a `dropblock_stage` with a non-zero gamma scale."""
        if not self.config.use_dropblock or self._dropblock_gamma_scale == 0.0:
            return x
        layer = DropBlock(self.keep_prob, block_size=self.config.dropblock_block_size,
                          gamma_scale=self._dropblock_gamma_scale,
                          shared_mask=self.config.dropblock_shared_mask, seed=next(self._seeds),
                          name=f"{name}_dropblock")
        return layer(x)

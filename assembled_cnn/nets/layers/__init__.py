"""Building blocks of the networks: one file per technique."""

from assembled_cnn.nets.layers.anti_alias import BlurPool2D, binomial_filter
from assembled_cnn.nets.layers.attention import GlobalPool, SelectKernels, SplitSumPool
from assembled_cnn.nets.layers.cosine import CosineLogits
from assembled_cnn.nets.layers.dropblock import DropBlock, KeepProbability, dropblock_mask
from assembled_cnn.nets.layers.norm import BatchNorm

__all__ = ["BatchNorm", "BlurPool2D", "CosineLogits", "DropBlock", "GlobalPool", "KeepProbability", "SelectKernels",
           "SplitSumPool", "binomial_filter", "dropblock_mask"]

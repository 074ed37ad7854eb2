"""The original's streamlined Selective Kernel unit (`nets/blocks.py:sk_conv2d`, r=2, L=32).

One 3x3 conv with 2F outputs stands for the two branches (its halves); attention weights from
the fused squeeze pick between them per channel. Paper Table 2 calls it "SK†".
"""

from __future__ import annotations

from assembled_cnn.nets.factory import LayerFactory
from assembled_cnn.nets.layers import SelectKernels, SplitSumPool

SK_RATIO = 2
SK_MIN_DIM = 32


def selective_kernel_unit(f: LayerFactory, x, filters: int, strides: int, *, name: str):
    """conv3x3(2F)->BN->ReLU, split U1|U2, z = ReLU(BN(fc1(GAP(U1+U2)))), softmax(fc2(z)) mix."""
    features = f.conv_bn_relu(x, 2 * filters, 3, strides, name=f"{name}_conv")
    attention_dim = max(filters // SK_RATIO, SK_MIN_DIM)
    with f.namer.scope("sk_block", uniquify=True):
        s = SplitSumPool(name=f"{name}_fuse")(features)
        z = f.conv(s, attention_dim, 1, name=f"{name}_fc1", tf1_base="sk_fc_1")
        z = f.bn(z, name=f"{name}_fc1_bn")
        z = f.relu(z, name=f"{name}_fc1_relu")
        logits = f.conv(z, 2 * filters, 1, name=f"{name}_fc2", tf1_base="sk_fc_2")
    return SelectKernels(name=f"{name}_select")([features, logits])

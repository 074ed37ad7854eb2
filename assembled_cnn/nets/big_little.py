"""Big-Little Net structure (Chen et al. 2019) as the original's `resnet_version=2`.

Each of the first three stages runs a deep, strided "big" branch and a shallow, narrow,
full-resolution "little" branch, merges them by upsampling + addition, and finishes with one
block (`merge`). Stage 4 is a plain block layer.
"""

from __future__ import annotations

import keras

from assembled_cnn.nets.blocks import BOTTLENECK_EXPANSION, block_layer
from assembled_cnn.nets.factory import LayerFactory

BIG_LITTLE_STRIDES = (2, 2, 1, 2)


def big_little_stem(f: LayerFactory, x):
    """7x7/2 conv (scope `stage0`) then "blModule0" (scope `stage0/pool`) instead of max-pool."""
    cfg, namer = f.config, f.namer
    nf, little = cfg.num_filters, max(1, cfg.num_filters // cfg.bl_alpha)
    if cfg.use_resnet_d:  # deep stem; the original warns it may degrade BL (names unverified)
        for i, width in enumerate((nf // 2, nf // 2, nf)):
            with namer.scope("stage0"):
                x = f.conv(x, width, 3, 2 if i == 0 else 1, name=f"stem_conv{i + 1}")
            with namer.scope("stage0_1"):
                x = f.bn(x, name=f"stem_conv{i + 1}_bn")
            x = f.relu(x, name=f"stem_conv{i + 1}_relu")
    else:
        with namer.scope("stage0"):
            x = f.conv(x, nf, 7, 2, name="stem_conv")
        with namer.scope("stage0_1"):  # the original's BN lands in a re-entered name scope
            x = f.bn(x, name="stem_conv_bn")
        x = f.relu(x, name="stem_conv_relu")
    with namer.scope("stage0"), namer.scope("pool"):
        big = f.conv(x, nf, 3, 2, name="stem_big")
        big = f.bn(big, name="stem_big_bn")
        y = f.conv_bn_relu(x, little, 3, 1, name="stem_little1")
        y = f.conv_bn_relu(y, little, 3, 2, name="stem_little2")
        y = f.conv_bn_relu(y, nf, 1, name="stem_little3", relu=False)
        x = keras.layers.Add(name="stem_merge_add")([big, y])
        x = f.relu(x, name="stem_merge_add_relu")
        x = f.conv_bn_relu(x, nf, 1, name="stem_merge")
    return x


def big_little_stage(f: LayerFactory, x, stage: int, num_blocks: int, shortcut_kind: str, strides: int):
    """Stage `stage` (0-based, < 3): big (n-1 blocks, stride 2), little (F/alpha wide,
    max(1, n//beta - 1) blocks), little 1x1 expansion, 2x nearest upsampling of big, add, merge."""
    cfg, namer = f.config, f.namer
    filters = cfg.num_filters * 2 ** stage
    tag, idx = f"s{stage + 1}", stage + 1
    with namer.scope(f"stage{idx}"):
        with namer.scope(f"big{idx}"):
            big = block_layer(f, x, filters, num_blocks - 1, 2, shortcut_kind, name=f"{tag}_big",
                              last_relu=False)
        with namer.scope(f"little{idx}"):
            little_blocks = max(1, num_blocks // cfg.bl_beta - 1)
            little = block_layer(f, x, max(1, filters // cfg.bl_alpha), little_blocks, 1, shortcut_kind,
                                 name=f"{tag}_little")
            little = f.conv(little, BOTTLENECK_EXPANSION * filters, 1, name=f"{tag}_little_expand")
            little = f.bn(little, name=f"{tag}_little_expand_bn")
        with namer.scope(f"merge{idx}"):
            big = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{tag}_big_upsample")(big)
            merged = keras.layers.Add(name=f"{tag}_merge_add")([little, big])
            merged = f.relu(merged, name=f"{tag}_merge_add_relu")
            return block_layer(f, merged, filters, 1, strides, shortcut_kind, name=f"{tag}_merge")


def big_little_body(f: LayerFactory, x):
    """Stages 1-3 as Big-Little modules, stage 4 plain; DropBlock in stages 3 (0.25) and 4 (1.0)."""
    cfg = f.config
    shortcut_kind = "resnet_d" if cfg.use_resnet_d else "big_little"
    strides = list(BIG_LITTLE_STRIDES)
    if cfg.no_downsample:
        strides[3] = 1
    counts = cfg.block_counts
    for stage in range(3):
        with f.dropblock_stage(dropblock_gamma_scale(stage)):
            x = big_little_stage(f, x, stage, counts[stage], shortcut_kind, strides[stage])
    with f.namer.scope("stage4"), f.dropblock_stage(dropblock_gamma_scale(3)):
        x = block_layer(f, x, cfg.num_filters * 8, counts[3], strides[3], shortcut_kind, name="s4")
    return x


def dropblock_gamma_scale(stage: int) -> float:
    """The original's DropBlock placement: third stage at 1/4 rate, fourth at full rate."""
    return {2: 0.25, 3: 1.0}.get(stage, 0.0)

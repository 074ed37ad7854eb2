"""Named groups of layers (stem, stage1..4, head) for per-group LR, L2-SP and re-initialising.

Groups come from the Keras layer names our builders use (`stem_*`, `s1_*` … `s4_*`, head
layers), so they work for every ResNet variant; MobileNet blocks are split into 4 groups.
"""

from __future__ import annotations

import re

import keras

from assembled_cnn.nets.model_info import HEAD_LAYERS

GROUP_ORDER = ("stem", "stage1", "stage2", "stage3", "stage4", "head")


def layer_group(layer_name: str, num_mobilenet_blocks: int = 0) -> str:
    if layer_name in HEAD_LAYERS or layer_name.startswith("head_"):
        return "head"
    match = re.match(r"s(\d)_", layer_name)
    if match:
        return f"stage{match.group(1)}"
    match = re.match(r"b(\d+)_", layer_name)
    if match and num_mobilenet_blocks:
        return f"stage{1 + min(3, 4 * int(match.group(1)) // num_mobilenet_blocks)}"
    return "stem"


def variable_groups(model: keras.Model) -> dict[str, list]:
    """Group name -> the model's weights (trainable and not) in that group."""
    blocks = {m.group(1) for l in model.layers if (m := re.match(r"b(\d+)_", l.name))}
    groups: dict[str, list] = {g: [] for g in GROUP_ORDER}
    for layer in model.layers:
        for var in layer.weights:
            groups[layer_group(layer.name, len(blocks))].append(var)
    return groups


def last_groups(n: int) -> tuple[str, ...]:
    """The last `n` groups counted from the head (`--new_layers`)."""
    if not 0 <= n <= len(GROUP_ORDER):
        raise ValueError(f"--new_layers={n}: expected 0..{len(GROUP_ORDER)} of {GROUP_ORDER}")
    return GROUP_ORDER[len(GROUP_ORDER) - n:] if n else ()

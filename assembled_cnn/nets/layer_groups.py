"""Named groups of a network's layers (stem, stage1..4, head), decided when it is built.

The trainer's per-group LR, L2-SP and `--new_layers` read them from the model's own metadata
(`model_info(model).layer_groups`), so they never guess from names at training time. The names
are the builders' own: `stem_*`, `s1_*` … `s4_*` (ResNets), `b<i>_*` blocks split in four
(MobileNets, EfficientNet-Lite), and the head layers. A layer with weights that matches none is a
builder bug, reported when the model is built, not a silent "stem".
"""

from __future__ import annotations

import re

import keras

GROUP_ORDER = ("stem", "stage1", "stage2", "stage3", "stage4", "head")
# The classifier layers: left out of warm starts and TF1 loads with skip_head, grouped as "head".
HEAD_LAYERS = ("logits", "embedding", "embedding_bn")


def layer_group(layer_name: str, num_blocks: int = 0) -> str | None:
    """The group of a layer name; `num_blocks`: how many `b<i>_` blocks the network has."""
    if layer_name in HEAD_LAYERS or layer_name.startswith("head_"):
        return "head"
    match = re.match(r"s(\d)_", layer_name)
    if match:
        return f"stage{match.group(1)}"
    match = re.match(r"b(\d+)_", layer_name)
    if match and num_blocks:
        return f"stage{1 + min(3, 4 * int(match.group(1)) // num_blocks)}"
    if layer_name.startswith("stem"):
        return "stem"
    return None


def assign_layer_groups(model: keras.Model) -> dict[str, str]:
    """Layer name -> group for every layer that has weights; raises on a layer it cannot place."""
    blocks = {m.group(1) for layer in model.layers if (m := re.match(r"b(\d+)_", layer.name))}
    groups, unplaced = {}, []
    for layer in model.layers:
        if not layer.weights:
            continue
        group = layer_group(layer.name, len(blocks))
        if group is None:
            unplaced.append(layer.name)
        groups[layer.name] = group
    if unplaced:
        raise ValueError(f"layers {unplaced[:5]} of {model.name!r} belong to no layer group; name them "
                         "stem_*, s<N>_*, b<i>_* or head_* in the builder")
    return groups

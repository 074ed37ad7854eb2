"""Weights by layer group (stem, stage1..4, head) for per-group LR, L2-SP and re-initialising.

The groups are the network's own metadata, set by its builder (`assembled_cnn.nets.layer_groups`).
"""

from __future__ import annotations

import keras

from assembled_cnn.nets.layer_groups import GROUP_ORDER, HEAD_LAYERS
from assembled_cnn.nets.model_info import model_info

__all__ = ["GROUP_ORDER", "HEAD_LAYERS", "last_groups", "variable_groups"]


def variable_groups(model: keras.Model) -> dict[str, list]:
    """Group name -> the model's weights (trainable and not) in that group."""
    by_layer = model_info(model).layer_groups
    groups: dict[str, list] = {g: [] for g in GROUP_ORDER}
    for layer in model.layers:
        if layer.weights:
            groups[by_layer[layer.name]].extend(layer.weights)
    return groups


def last_groups(n: int) -> tuple[str, ...]:
    """The last `n` groups counted from the head (`--new_layers`)."""
    if not 0 <= n <= len(GROUP_ORDER):
        raise ValueError(f"--new_layers={n}: expected 0..{len(GROUP_ORDER)} of {GROUP_ORDER}")
    return GROUP_ORDER[len(GROUP_ORDER) - n:] if n else ()

"""What a built model knows about itself: its config, TF1 names and DropBlock keep-prob."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import keras

from assembled_cnn.nets.config import ModelConfig
from assembled_cnn.nets.layer_groups import HEAD_LAYERS, assign_layer_groups
from assembled_cnn.nets.layers import DropBlock, KeepProbability

_INFO_ATTR = "_assembled_cnn_info"
__all__ = ["HEAD_LAYERS", "ModelInfo", "attach_model_info", "is_batch_norm_folded", "model_info",
           "set_dropblock_keep_prob", "with_folded_batch_norm"]


@dataclass(frozen=True)
class ModelInfo:
    config: ModelConfig
    tf1_layer_names: dict  # Keras layer name -> TF1 variable-scope path of its weights
    keep_prob: KeepProbability
    batch_norm_folded: bool = False  # an inference model from nets.fold.fold_batch_norm
    layer_groups: dict = dataclasses.field(default_factory=dict)  # layer name -> stem/stage1..4/head
    dropblock_layers: tuple = ()  # their seed generators are part of a run's checkpoint


def attach_model_info(model: keras.Model, config: ModelConfig, tf1_names: dict,
                      keep_prob: KeepProbability) -> keras.Model:
    """What the trainer needs to know about the network, decided by its builder."""
    info = ModelInfo(config, dict(tf1_names), keep_prob, layer_groups=assign_layer_groups(model),
                     dropblock_layers=tuple(l for l in model.layers if isinstance(l, DropBlock)))
    object.__setattr__(model, _INFO_ATTR, info)  # keeps Keras/TF tracking away from this plain record
    return model


def model_info(model: keras.Model) -> ModelInfo:
    info = getattr(model, _INFO_ATTR, None)
    if info is None:
        raise ValueError(f"model {model.name!r} was not built by assembled_cnn.build_model")
    return info


def with_folded_batch_norm(folded: keras.Model, original: keras.Model) -> keras.Model:
    """Gives `folded` (from nets.fold) the info of `original`, marked as BN-folded."""
    info = getattr(original, _INFO_ATTR, None)
    if info is not None:
        object.__setattr__(folded, _INFO_ATTR, dataclasses.replace(info, batch_norm_folded=True))
    return folded


def is_batch_norm_folded(model: keras.Model) -> bool:
    info = getattr(model, _INFO_ATTR, None)
    return info is not None and info.batch_norm_folded


def set_dropblock_keep_prob(model: keras.Model, value) -> None:
    """Sets the keep probability read by every DropBlock layer of `model` (per training step)."""
    model_info(model).keep_prob.assign(value)

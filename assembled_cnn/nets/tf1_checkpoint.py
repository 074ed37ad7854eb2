"""Loads checkpoints written by the original TF1 code (`resnet_model/...` names) into our models.

The model's own build records the TF1 name of every weight (see `naming.py`), so the mapping
is exact and total: every model weight is assigned or reported, every checkpoint variable is
used or reported, and any mismatch is an error listing names and shapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from assembled_cnn.errors import UserError
from assembled_cnn.nets.model_info import HEAD_LAYERS, is_batch_norm_folded, model_info

# Checkpoint entries that are training bookkeeping, not network weights.
_BOOKKEEPING = re.compile(r"(^global_step$|/Momentum$|/ExponentialMovingAverage$|^beta[12]_power|"
                          r"/Adam(_1)?$|^loss_scale|^current_loss_scale|^good_steps|_CHECKPOINTABLE_OBJECT_GRAPH)")


class Tf1CheckpointError(UserError):
    """The checkpoint does not fit the model; the message lists the offending names and shapes."""


@dataclass
class Tf1LoadReport:
    path: str
    assigned: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    ignored_bookkeeping: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"TF1 checkpoint {self.path}: assigned {len(self.assigned)} variables"]
        if self.skipped:
            lines.append(f"  kept freshly initialised ({len(self.skipped)}): {', '.join(self.skipped)}")
        if self.ignored_bookkeeping:
            lines.append(f"  ignored training bookkeeping ({len(self.ignored_bookkeeping)}): "
                         f"{', '.join(self.ignored_bookkeeping[:8])}{' ...' if len(self.ignored_bookkeeping) > 8 else ''}")
        return "\n".join(lines)


def tf1_variable_map(model: keras.Model) -> dict[str, tuple[str, keras.Variable]]:
    """TF1 name -> (Keras layer name, variable) for every weight of `model`."""
    names = model_info(model).tf1_layer_names
    mapping: dict[str, tuple[str, keras.Variable]] = {}
    for layer in _flat_layers(model):
        prefix = names.get(layer.name)
        if prefix is None:
            if layer.weights:
                raise Tf1CheckpointError(f"layer {layer.name!r} has weights but no TF1 name")
            continue
        for var in layer.weights:
            mapping[f"{prefix}/{var.name}"] = (layer.name, var)
    return mapping


def _flat_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _flat_layers(layer)
        else:
            yield layer


def _compatible(value_shape, var_shape) -> bool:
    """Equal shapes, or equal up to unit dims (a 1x1 conv kernel stored as a dense kernel)."""
    if tuple(value_shape) == tuple(var_shape):
        return True
    squeeze = lambda s: tuple(d for d in s if d != 1)  # noqa: E731
    return squeeze(value_shape) == squeeze(var_shape) and np.prod(value_shape) == np.prod(var_shape)


def _format(rows) -> str:
    return "\n".join(f"    {name}  {shape}" for name, shape in rows)


def _check_fit(path, mapping, shapes, skip):
    missing = [(n, tuple(v.shape)) for n, (layer, v) in mapping.items() if n not in shapes and layer not in skip]
    wrong = [(n, f"model {tuple(v.shape)} vs checkpoint {tuple(shapes[n])}")
             for n, (layer, v) in mapping.items()
             if n in shapes and layer not in skip and not _compatible(shapes[n], v.shape)]
    unused = sorted((n, tuple(s)) for n, s in shapes.items() if n not in mapping and not _BOOKKEEPING.search(n))
    if not (missing or wrong or unused):
        return
    parts = [f"TF1 checkpoint {path} does not match the model:"]
    if missing:
        parts.append(f"  {len(missing)} model variables missing from the checkpoint:\n{_format(missing[:40])}")
    if wrong:
        parts.append(f"  {len(wrong)} shape mismatches:\n{_format(wrong[:40])}")
    if unused:
        parts.append(f"  {len(unused)} checkpoint variables the model does not have:\n{_format(unused[:40])}")
    parts.append("  Hint: the architecture flags must match the checkpoint (resnet_size, resnet_version, "
                 "use_sk_block, use_se_block, use_resnet_d, bl_alpha/bl_beta, num_filters, embedding_size); "
                 "pass skip_head=True (or a matching num_classes) when only the classifier differs.")
    raise Tf1CheckpointError("\n".join(parts))


def load_tf1_checkpoint(model: keras.Model, path: str, skip_head: bool = False,
                        restore_moving_stats: bool = True) -> Tf1LoadReport:
    """Assign the original checkpoint at `path` (file prefix or directory) to `model`.

    skip_head: leave the classifier (and embedding) freshly initialised, as the original's warm
    start did. restore_moving_stats=False leaves BN moving mean/variance at their initial values
    (the original's fine-tuning re-estimated them).
    """
    if is_batch_norm_folded(model):
        raise Tf1CheckpointError(f"model {model.name!r} has its BatchNorms folded (fold_batch_norm); "
                                 "load the checkpoint into the unfolded model, then fold it")
    try:
        reader = tf.train.load_checkpoint(path)
    except (ValueError, tf.errors.OpError) as err:
        raise Tf1CheckpointError(f"cannot read a TF1 checkpoint at {path!r}: {err}") from err
    shapes = reader.get_variable_to_shape_map()
    mapping = tf1_variable_map(model)
    skip = set(HEAD_LAYERS) if skip_head else set()
    _check_fit(path, mapping, shapes, skip)
    report = Tf1LoadReport(path=str(path))
    for name, (layer, var) in sorted(mapping.items()):
        is_stat = var.name in ("moving_mean", "moving_variance")
        if layer in skip or name not in shapes or (is_stat and not restore_moving_stats):
            report.skipped.append(name)
            continue
        value = reader.get_tensor(name).reshape(var.shape)
        var.assign(value.astype(var.dtype))
        report.assigned.append(name)
    report.ignored_bookkeeping = sorted(n for n in shapes if n not in mapping)
    return report

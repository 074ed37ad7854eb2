"""Checkpoint bookkeeping of a model_dir: latest-N, best-N by the eval metric, warm start."""

from __future__ import annotations

import glob
import json
import os
import shutil

import keras
import numpy as np
import tensorflow as tf

from assembled_cnn.config import ConfigError
from assembled_cnn.nets.tf1_checkpoint import load_tf1_checkpoint
from assembled_cnn.train.layer_groups import HEAD_LAYERS
from assembled_cnn.utils.io import write_json_atomic

BEST_DIR = "best"
BEST_INDEX = "best_checkpoints.json"


class BestCheckpointKeeper:
    """Copies the best `keep` evaluated checkpoints to model_dir/best (the original's keeper)."""

    def __init__(self, model_dir: str, keep: int, metric: str):
        self.directory = os.path.join(model_dir, BEST_DIR)
        self.keep, self.metric = keep, metric
        self.index_path = os.path.join(self.directory, BEST_INDEX)

    def entries(self) -> list[dict]:
        if not os.path.exists(self.index_path):
            return []
        with open(self.index_path) as handle:
            return json.load(handle)

    def offer(self, checkpoint_path: str, step: int, value: float) -> bool:
        if self.keep <= 0:
            return False
        entries = [e for e in self.entries() if e["step"] != step]
        entries.append({"step": step, self.metric: value, "checkpoint": os.path.basename(checkpoint_path)})
        entries.sort(key=lambda e: (-e[self.metric], e["step"]))
        kept = entries[:self.keep]
        if all(e["step"] != step for e in kept):
            return False
        os.makedirs(self.directory, exist_ok=True)
        for path in glob.glob(checkpoint_path + ".*"):  # copy, then rename: a kill leaves no half file
            target = os.path.join(self.directory, os.path.basename(path))
            shutil.copy2(path, target + ".partial")
            os.replace(target + ".partial", target)
        write_json_atomic(self.index_path, kept)
        self._remove_unlisted({e["checkpoint"] for e in kept})
        return True

    def _remove_unlisted(self, listed: set) -> None:
        """Delete checkpoint files in best/ that the index does not list (dropped entries, or
        copies a killed run made before it could write the index)."""
        for name in os.listdir(self.directory):
            prefix = name.split(".", 1)[0]
            if name != BEST_INDEX and prefix.startswith("ckpt-") and (prefix not in listed or name.endswith(".partial")):
                os.unlink(os.path.join(self.directory, name))


def is_tf1_checkpoint(path: str) -> bool:
    names = [n for n, _ in tf.train.list_variables(path)]
    return any(n.startswith("resnet_model/") for n in names)


def _resolve(path: str) -> str:
    from assembled_cnn.weights.sources import checkpoint_prefix

    return checkpoint_prefix(path, "--pretrained_model_checkpoint_path",
                             " (or a weights file: .pth, .pth.tar, .pt, .bin, .safetensors, .h5; or 'imagenet')")


def warm_start(model: keras.Model, path: str, restore_bn_stats: bool, include_head: bool = False) -> dict:
    """Initialise everything but the head from `path` (ours, an original TF1 checkpoint, or a
    PyTorch / safetensors / keras.applications weights file). `include_head` (one of our model_dirs
    only) takes the classifier too: a run continued under a new schedule, e.g. FixRes stage 2."""
    from assembled_cnn.weights.sources import PRESET_WEIGHTS

    foreign = path in PRESET_WEIGHTS or (os.path.isfile(path) and path.endswith(FOREIGN_WEIGHT_SUFFIXES))
    if include_head and (foreign or os.path.isfile(path) or is_tf1_checkpoint(_resolve(path))):
        raise ConfigError(f"--warm_start_head needs a model_dir of this toolkit, not {path}")
    if foreign:
        return _warm_start_foreign(model, path, restore_bn_stats)
    resolved = _resolve(path)
    if is_tf1_checkpoint(resolved):
        report = load_tf1_checkpoint(model, resolved, skip_head=True, restore_moving_stats=restore_bn_stats)
        return {"source": resolved, "format": "tf1", "restored": report.assigned, "not_restored": report.skipped}
    return _warm_start_tf2(model, resolved, restore_bn_stats, include_head)


FOREIGN_WEIGHT_SUFFIXES = (".pth", ".pt", ".pth.tar", ".bin", ".safetensors", ".h5")


def _warm_start_foreign(model: keras.Model, path: str, restore_bn_stats: bool) -> dict:
    """Everything but the head from a PyTorch or keras.applications file or a preset name such as
    'imagenet' (`weights.sources.load_weights`, as `build_model(weights=...)`)."""
    from assembled_cnn.weights.sources import load_weights

    stats = [v for v in model.weights if v.name in ("moving_mean", "moving_variance")]
    initial = [v.numpy() for v in stats]
    report = load_weights(model, path, skip_head=True)
    if not restore_bn_stats:
        for var, value in zip(stats, initial):
            var.assign(value)
    kind = "h5" if path.endswith(".h5") else "torch" if os.path.isfile(path) else path
    return {"source": report.source, "format": kind,
            "restored": [keras_name for _, keras_name, _ in report.assigned if restore_bn_stats
                         or keras_name.rsplit("/", 1)[-1] not in ("moving_mean", "moving_variance")],
            "not_restored": [name for name, _ in report.missing], "notes": report.notes}


def _twin_config(model: keras.Model, path: str):
    """The pretrained network's own config (its model_config.json), else the model's."""
    from assembled_cnn.model_dir import MODEL_CONFIG_FILE, load_model_config
    from assembled_cnn.nets import model_info

    directory = os.path.dirname(path)
    if os.path.exists(os.path.join(directory, MODEL_CONFIG_FILE)):
        return load_model_config(directory)
    return model_info(model).config


def _warm_start_tf2(model: keras.Model, path: str, restore_bn_stats: bool, include_head: bool = False) -> dict:
    """Restore a TF2 checkpoint of ours into a twin network, then copy every non-head layer."""
    from assembled_cnn.nets import build_model

    twin = build_model(config=_twin_config(model, path))
    tf.train.Checkpoint(model=twin).read(path).expect_partial().assert_existing_objects_matched()
    twin_layers = {layer.name: layer for layer in twin.layers}
    restored, skipped, mismatched = [], [], []
    for layer in model.layers:
        source = {w.name: w for w in getattr(twin_layers.get(layer.name), "weights", [])}
        for var in layer.weights:
            name = f"{layer.name}/{var.name}"
            is_stat = var.name in ("moving_mean", "moving_variance")
            if (layer.name in HEAD_LAYERS and not include_head) or (is_stat and not restore_bn_stats):
                skipped.append(name)
            elif var.name not in source or tuple(source[var.name].shape) != tuple(var.shape):
                mismatched.append(f"{name} {tuple(var.shape)}")
            else:
                var.assign(source[var.name])
                restored.append(name)
    if mismatched:
        raise ValueError(f"--pretrained_model_checkpoint_path={path}: {len(mismatched)} weights do not match the "
                         "model (architecture flags must match the pretrained network):\n  "
                         + "\n  ".join(mismatched[:30]))
    return {"source": path, "format": "tf2", "restored": restored, "not_restored": skipped}


def all_finite(values) -> bool:
    return all(np.all(np.isfinite(np.asarray(v))) for v in values)

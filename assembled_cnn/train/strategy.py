"""`--distribution_strategy` → a tf.distribute strategy (TF_CONFIG for multi-worker)."""

from __future__ import annotations

import json
import os

import tensorflow as tf


def make_strategy(name: str, num_gpus: int | None = None) -> tf.distribute.Strategy:
    # Device queries initialise the TF runtime, which multi-worker collectives must configure
    # first: ask only in the branches that need them.
    if name == "off":
        return tf.distribute.get_strategy()
    gpus = tf.config.list_logical_devices("GPU") if name in ("one_device", "mirrored") else []
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    if name == "mirrored":
        if gpus:
            count = len(gpus) if num_gpus in (None, -1) else num_gpus
            return tf.distribute.MirroredStrategy([d.name for d in gpus[:count]])
        cpus = tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in cpus])
    if name == "multi_worker_mirrored":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--distribution_strategy=multi_worker_mirrored needs the TF_CONFIG environment "
                             "variable ({'cluster': {'worker': [host:port, ...]}, 'task': {...}})")
        json.loads(os.environ["TF_CONFIG"])  # a clear JSON error early
        options = tf.distribute.experimental.CommunicationOptions(
            implementation=tf.distribute.experimental.CommunicationImplementation.RING)
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    raise ValueError(f"--distribution_strategy={name!r}: choose off, one_device, mirrored, multi_worker_mirrored")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Only the chief writes checkpoints' extras, summaries and reports."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "cluster_spec", None) or not resolver.cluster_spec().as_dict():
        return True
    return _is_chief_task(resolver.task_type, resolver.task_id, resolver.cluster_spec().as_dict())


def is_chief_task(tf_config: str | None) -> bool:
    """Whether this process is the chief by its TF_CONFIG (before any strategy exists): the
    `chief` task, else worker 0; a process without a cluster is its own chief."""
    try:
        config = json.loads(tf_config) if tf_config else {}
    except ValueError:
        return True  # make_strategy reports the malformed TF_CONFIG
    cluster, task = config.get("cluster") or {}, config.get("task") or {}
    if not cluster:
        return True
    return _is_chief_task(task.get("type"), int(task.get("index", 0)), cluster)


def _is_chief_task(task_type: str | None, task_id: int, cluster: dict) -> bool:
    return task_type == "chief" or (task_type == "worker" and task_id == 0 and "chief" not in cluster)

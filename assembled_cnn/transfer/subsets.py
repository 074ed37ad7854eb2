"""Small labelled subsets of a training split, and validation splits carved from one.

Kornblith et al.'s "small labelled subset" experiments need N labelled images per class,
drawn the same way on every rerun: the draw depends only on (source records, N, seed).
The subset is a regular data_dir (TFRecords + ``dataset_info.json``), so the trainer, the
feature extractor and the study all read it like any other dataset; its validation files
are links to the source's, so the test set is unchanged.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from assembled_cnn.datasets import schema
from assembled_cnn.datasets.registry import INFO_FILE, read_info_file
from assembled_cnn.utils.io import write_json_atomic

SUBSET_FILE = "train-00000-of-00001"


def _train_files(data_dir: str, pattern: str) -> list[str]:
    files = sorted(tf.io.gfile.glob(os.path.join(data_dir, pattern)))
    if not files:
        raise FileNotFoundError(f"no training records match {pattern!r} in {data_dir!r}; "
                                "build the dataset first (python -m assembled_cnn.datasets.fetch)")
    return files


def _records_and_labels(files: list[str]) -> tuple[list[bytes], np.ndarray]:
    spec = {schema.KEY_LABEL: tf.io.FixedLenFeature([], tf.int64)}
    records, labels = [], []
    dataset = tf.data.TFRecordDataset(files).batch(1024)
    for batch in dataset:
        parsed = tf.io.parse_example(batch, spec)
        records.extend(batch.numpy().tolist())
        labels.append(parsed[schema.KEY_LABEL].numpy())
    return records, np.concatenate(labels) if labels else np.zeros([0], np.int64)


def choose_per_class(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Sorted indices of `per_class` examples of every class (all of a smaller class)."""
    if per_class < 1:
        raise ValueError(f"--subset_per_class={per_class} must be >= 1")
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        chosen.append(rng.choice(members, size=min(per_class, len(members)), replace=False))
    return np.sort(np.concatenate(chosen))


def build_subset(data_dir: str, output_dir: str, per_class: int, seed: int,
                 pattern: str = "train-*", val_pattern: str = "validation-*") -> str:
    """Write N-per-class training records of `data_dir` into `output_dir`; returns it.

    Idempotent: an existing complete subset (its dataset_info.json written last) is reused.
    """
    output = Path(output_dir)
    if (output / INFO_FILE).is_file():
        return str(output)
    records, labels = _records_and_labels(_train_files(data_dir, pattern))
    chosen = choose_per_class(labels, per_class, seed)
    output.mkdir(parents=True, exist_ok=True)
    tmp = output / (SUBSET_FILE + ".tmp")
    with tf.io.TFRecordWriter(str(tmp)) as writer:
        for index in chosen:
            writer.write(records[index])
    os.replace(tmp, output / SUBSET_FILE)
    _link_validation(data_dir, output, val_pattern)
    write_json_atomic(str(output / INFO_FILE), _subset_info(data_dir, len(chosen), per_class, seed,
                                                            len(np.unique(labels))))
    return str(output)


def _link_validation(data_dir: str, output: Path, pattern: str) -> None:
    for source in sorted(tf.io.gfile.glob(os.path.join(data_dir, pattern))):
        target = output / os.path.basename(source)
        if not target.exists():
            os.symlink(os.path.abspath(source), target)


def _subset_info(data_dir: str, count: int, per_class: int, seed: int, num_classes: int) -> dict:
    info = read_info_file(data_dir) or {"name": os.path.basename(os.path.normpath(data_dir)),
                                        "num_classes": num_classes}
    info = copy.deepcopy(info)
    splits = info.setdefault("splits", {})
    splits["train"] = {"num_records": count, "num_shards": 1, "file_pattern": "train-*",
                       "files": [SUBSET_FILE]}
    info["subset"] = {"source": os.path.abspath(data_dir), "per_class": per_class, "seed": seed}
    return info


def carve_validation(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices): `fraction` of every class with ≥ 2 examples held
    out (at least one), so the probe's C is chosen on data it was not fitted on."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation fraction {fraction} must be in (0, 1)")
    rng = np.random.default_rng(seed)
    train, validation = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        held = max(1, int(round(fraction * len(members)))) if len(members) >= 2 else 0
        validation.append(members[:held])
        train.append(members[held:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(validation))

"""Find which TFRecord file is corrupt: TF's DataLossError says "corrupted record at N" only."""

from __future__ import annotations

import glob
import os

import tensorflow as tf


def first_corrupt_record(paths: list[str]) -> tuple[str, int] | None:
    """(file, index of the first unreadable record) of the first corrupt file, else None."""
    for path in paths:
        count = 0
        try:
            for _ in tf.data.TFRecordDataset(path):
                count += 1
        except tf.errors.DataLossError:
            return path, count
    return None


def describe_corrupt_records(data_dir: str | None, error: Exception) -> str:
    """One line naming the corrupt file under data_dir (scanned now) and what to do."""
    reason = str(error).strip().splitlines()[0][:160]
    paths = sorted(glob.glob(os.path.join(data_dir or ".", "*-of-*")))
    found = first_corrupt_record(paths)
    if found is None:
        return f"a TFRecord is corrupt ({reason}); check --data_dir={data_dir} and rebuild it"
    path, index = found
    return (f"{path} is corrupt after record {index} ({reason}); rebuild the dataset with python -m "
            "assembled_cnn.datasets.build, or restore that file from a copy")


def has_teacher_logits(path: str) -> bool:
    """Whether the first record of `path` carries teacher logits (`image/logit`)."""
    from assembled_cnn.datasets import schema

    for serialized in tf.data.TFRecordDataset(path).take(1):
        example = tf.train.Example.FromString(serialized.numpy())
        return len(example.features.feature[schema.KEY_LOGIT].float_list.value) > 0
    return False

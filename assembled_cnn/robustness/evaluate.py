"""Top-1 error per corruption x severity, from generated TFRecord sets, an ImageNet-C JPEG
tree (``corruption/severity/wnid/file``) or on the fly (corrupted in ``tf.data``).

``predict_fn`` maps a float32 batch ``[B, H, W, 3]`` in 0..255 to logits ``[B, K]`` or
class ids ``[B]``; model-specific preprocessing belongs inside it.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from typing import Callable, Sequence

import tensorflow as tf

PredictFn = Callable[[tf.Tensor], tf.Tensor]


@dataclasses.dataclass(frozen=True)
class TFRecordSets:
    root: str  # <root>/<corruption>/<severity>/validation-*


@dataclasses.dataclass(frozen=True)
class JpegTree:
    root: str  # <root>/<corruption>/<severity>/<wnid>/<file>
    synsets: Sequence[str]  # label = synsets.index(wnid) + label_offset
    label_offset: int = 0


@dataclasses.dataclass(frozen=True)
class OnTheFly:
    clean: tf.data.Dataset  # unbatched (uint8 image [H, W, 3] fixed size, int label)
    seed: int = 0
    mode: str = "fast"


def _decode(image_bytes):
    return tf.cast(tf.io.decode_jpeg(image_bytes, channels=3, dct_method="INTEGER_ACCURATE"), tf.float32)


def corrupted_record_files(root: str, corruption: str, severity: int) -> list[str]:
    """The finished TFRecord shards of one corrupted set (<root>/<corruption>/<severity>/validation-*);
    shards still being written (`.tmp`) are not part of it."""
    files = sorted(glob.glob(os.path.join(root, corruption, str(severity), "validation-*")))
    return [f for f in files if ".tmp" not in f]


def _dataset(source, corruption: str, severity: int) -> tf.data.Dataset:
    if isinstance(source, TFRecordSets):
        from assembled_cnn.datasets import schema

        files = corrupted_record_files(source.root, corruption, severity)
        if not files:
            raise FileNotFoundError(f"no TFRecords for {corruption}/{severity} under {source.root}")
        parsed = tf.data.TFRecordDataset(files).map(schema.parse_example)
        return parsed.map(lambda d: (_decode(d["image_bytes"]), d["label"]))
    if isinstance(source, JpegTree):
        folder = os.path.join(source.root, corruption, str(severity))
        paths = sorted(glob.glob(os.path.join(folder, "*", "*")))
        if not paths:
            raise FileNotFoundError(f"no images under {folder}")
        index = {w.lower(): i for i, w in enumerate(source.synsets)}
        labels = [index[os.path.basename(os.path.dirname(p)).lower()] + source.label_offset for p in paths]
        data = tf.data.Dataset.from_tensor_slices((paths, labels))
        return data.map(lambda p, y: (_decode(tf.io.read_file(p)), tf.cast(y, tf.int32)))
    if isinstance(source, OnTheFly):
        from assembled_cnn.robustness.corruptions import corrupt

        def corrupt_one(i, pair):
            image, label = pair
            out = corrupt(image, corruption, severity, seed=source.seed, index=i, mode=source.mode)
            return tf.cast(out, tf.float32), label

        return source.clean.enumerate().map(corrupt_one)
    raise TypeError(f"source must be TFRecordSets, JpegTree or OnTheFly, got {type(source).__name__}")


def top1_error(predict_fn: PredictFn, dataset: tf.data.Dataset, batch_size: int) -> float:
    wrong = total = 0
    for images, labels in dataset.batch(batch_size):
        output = predict_fn(images)
        predicted = output if output.shape.rank == 1 else tf.argmax(output, axis=-1)
        wrong += int(tf.reduce_sum(tf.cast(tf.cast(predicted, tf.int64) != tf.cast(labels, tf.int64), tf.int32)))
        total += int(tf.shape(labels)[0])
    if total == 0:
        raise ValueError("the evaluation dataset is empty")
    return wrong / total


def evaluate_corruption_errors(predict_fn: PredictFn, source, corruptions: Sequence[str],
                               severities: Sequence[int] = (1, 2, 3, 4, 5),
                               batch_size: int = 64) -> dict[str, list[float]]:
    """{corruption: [top-1 error per severity]} (fractions), ready for ``compute_mce``."""
    if isinstance(source, str):
        source = TFRecordSets(source)
    return {name: [top1_error(predict_fn, _dataset(source, name, s), batch_size) for s in severities]
            for name in corruptions}

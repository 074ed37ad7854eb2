"""The TFRecord schema of the original Assemble-ResNet tools, in one place.

Records written here carry every key the original ImageNet builder wrote, so
records produced by the original TF1 tools, by TF Model Garden (which writes only
``image/encoded`` + ``image/class/label``) and by this package all parse with
:func:`parse_example`.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import tensorflow as tf

KEY_ENCODED = "image/encoded"
KEY_FORMAT = "image/format"
KEY_FILENAME = "image/filename"
KEY_HEIGHT = "image/height"
KEY_WIDTH = "image/width"
KEY_COLORSPACE = "image/colorspace"
KEY_CHANNELS = "image/channels"
KEY_LABEL = "image/class/label"
KEY_SYNSET = "image/class/synset"
KEY_TEXT = "image/class/text"
KEY_BBOX_XMIN = "image/object/bbox/xmin"
KEY_BBOX_XMAX = "image/object/bbox/xmax"
KEY_BBOX_YMIN = "image/object/bbox/ymin"
KEY_BBOX_YMAX = "image/object/bbox/ymax"
KEY_BBOX_LABEL = "image/object/bbox/label"
KEY_LOGIT = "image/logit"

MISSING_LABEL = -1

__all__ = ["make_example", "parse_example", "add_logits", "KEY_LOGIT", "MISSING_LABEL"]


def _bytes_feature(value: bytes | str) -> tf.train.Feature:
    if isinstance(value, str):
        value = value.encode("utf-8")
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int64_feature(values: Iterable[int]) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def _float_feature(values: Iterable[float]) -> tf.train.Feature:
    return tf.train.Feature(float_list=tf.train.FloatList(value=[float(v) for v in values]))


def _bbox_features(bboxes: Sequence[Sequence[float]] | None, label: int) -> dict:
    """Boxes are (ymin, xmin, ymax, xmax), relative, the order parse_example returns."""
    boxes = np.zeros((0, 4), np.float32) if bboxes is None else np.asarray(bboxes, np.float32)
    if boxes.size == 0:
        boxes = np.zeros((0, 4), np.float32)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(
            f"bboxes must be a list of (ymin, xmin, ymax, xmax) boxes; got shape {boxes.shape}")
    return {
        KEY_BBOX_YMIN: _float_feature(boxes[:, 0]),
        KEY_BBOX_XMIN: _float_feature(boxes[:, 1]),
        KEY_BBOX_YMAX: _float_feature(boxes[:, 2]),
        KEY_BBOX_XMAX: _float_feature(boxes[:, 3]),
        KEY_BBOX_LABEL: _int64_feature([label] * len(boxes)),
    }


def make_example(encoded: bytes, label: int, *, filename: str = "", height: int = 0,
                 width: int = 0, image_format: str = "JPEG", synset: str = "", text: str = "",
                 bboxes: Sequence[Sequence[float]] | None = None,
                 logits: Sequence[float] | None = None, channels: int = 3,
                 colorspace: str = "RGB") -> tf.train.Example:
    """Build one record with the full original key set (bboxes as (ymin, xmin, ymax, xmax))."""
    if not isinstance(encoded, (bytes, bytearray)):
        raise TypeError(f"encoded must be the image file bytes, got {type(encoded).__name__}")
    feature = {
        KEY_ENCODED: _bytes_feature(bytes(encoded)),
        KEY_FORMAT: _bytes_feature(image_format),
        KEY_FILENAME: _bytes_feature(filename),
        KEY_HEIGHT: _int64_feature([height]),
        KEY_WIDTH: _int64_feature([width]),
        KEY_COLORSPACE: _bytes_feature(colorspace),
        KEY_CHANNELS: _int64_feature([channels]),
        KEY_LABEL: _int64_feature([label]),
        KEY_SYNSET: _bytes_feature(synset),
        KEY_TEXT: _bytes_feature(text),
    }
    feature.update(_bbox_features(bboxes, label))
    if logits is not None:
        feature[KEY_LOGIT] = _float_feature(np.asarray(logits, np.float32).reshape(-1))
    return tf.train.Example(features=tf.train.Features(feature=feature))


def _feature_spec(with_logits: bool) -> dict:
    spec = {
        KEY_ENCODED: tf.io.FixedLenFeature([], tf.string),
        KEY_FILENAME: tf.io.FixedLenFeature([], tf.string, default_value=""),
        KEY_LABEL: tf.io.FixedLenFeature([], tf.int64, default_value=MISSING_LABEL),
    }
    for key in (KEY_BBOX_YMIN, KEY_BBOX_XMIN, KEY_BBOX_YMAX, KEY_BBOX_XMAX):
        spec[key] = tf.io.VarLenFeature(tf.float32)
    if with_logits:
        spec[KEY_LOGIT] = tf.io.VarLenFeature(tf.float32)
    return spec


def _checked_logits(sparse_logits: tf.SparseTensor, num_logits: int | None) -> tf.Tensor:
    """Dense logits; a record without them fails loudly instead of training on zeros."""
    logits = tf.sparse.to_dense(sparse_logits)
    count = tf.size(logits)
    missing = (f"record has no '{KEY_LOGIT}' feature (teacher logits); write them with "
               "assembled_cnn.datasets.schema.add_logits or parse with with_logits=False")
    checks = [tf.debugging.assert_positive(count, message=missing)]
    if num_logits is not None:
        checks.append(tf.debugging.assert_equal(
            count, tf.constant(num_logits, tf.int32),
            message=f"'{KEY_LOGIT}' has the wrong length; expected {num_logits} values"))
    with tf.control_dependencies(checks):
        logits = tf.identity(logits)
    if num_logits is not None:
        logits = tf.ensure_shape(logits, [num_logits])
    return logits


def parse_example(serialized, with_logits: bool = False, num_logits: int | None = None) -> dict:
    """Parse one serialized record (a scalar string tensor); works inside tf.data map.

    Missing optional keys get the original defaults (label -1, filename ''), so
    Model Garden records with only ``image/encoded`` + ``image/class/label`` parse.
    """
    parsed = tf.io.parse_single_example(serialized, _feature_spec(with_logits))
    corners = [tf.sparse.to_dense(parsed[key]) for key in
               (KEY_BBOX_YMIN, KEY_BBOX_XMIN, KEY_BBOX_YMAX, KEY_BBOX_XMAX)]
    box_count = tf.reduce_min(tf.stack([tf.size(c) for c in corners]))
    bbox = tf.stack([c[:box_count] for c in corners], axis=1)
    result = {
        "image_bytes": parsed[KEY_ENCODED],
        "label": tf.cast(parsed[KEY_LABEL], tf.int32),
        "filename": parsed[KEY_FILENAME],
        "bbox": tf.reshape(bbox, [-1, 4]),
    }
    if with_logits:
        result["logits"] = _checked_logits(parsed[KEY_LOGIT], num_logits)
    return result


def add_logits(serialized_example: bytes, logits: Sequence[float]) -> bytes:
    """Return the record with ``image/logit`` set (replaced if present); used by the KD tool."""
    example = tf.train.Example.FromString(bytes(serialized_example))
    values = np.asarray(logits, np.float32).reshape(-1)
    if values.size == 0:
        raise ValueError("add_logits needs at least one logit value")
    example.features.feature[KEY_LOGIT].CopyFrom(_float_feature(values))
    return example.SerializeToString()

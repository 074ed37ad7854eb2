"""The record schema: the original key set, Model Garden's subset, logits."""

import numpy as np
import pytest

from assembled_cnn.datasets import schema
from datasets_testlib import image_bytes


def _parse(tf, serialized: bytes, **kwargs) -> dict:
    dataset = tf.data.Dataset.from_tensors(serialized).map(
        lambda s: schema.parse_example(s, **kwargs))
    return next(dataset.as_numpy_iterator())


def _feature(tf, kind: str, values):
    if kind == "bytes":
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
    if kind == "int":
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))


def test_make_example_round_trip_keeps_every_field(tf):
    jpeg = image_bytes()
    example = schema.make_example(jpeg, 7, filename="a.jpg", height=8, width=10,
                                  synset="n01", text="tench", bboxes=[(0.1, 0.2, 0.6, 0.9)],
                                  logits=[0.5, -1.0, 2.0])
    features = example.features.feature
    assert features["image/format"].bytes_list.value == [b"JPEG"]
    assert features["image/colorspace"].bytes_list.value == [b"RGB"]
    assert features["image/channels"].int64_list.value == [3]
    assert features["image/object/bbox/label"].int64_list.value == [7]
    parsed = _parse(tf, example.SerializeToString(), with_logits=True, num_logits=3)
    assert parsed["image_bytes"] == jpeg
    assert parsed["label"] == 7 and parsed["label"].dtype == np.int32
    assert parsed["filename"] == b"a.jpg"
    np.testing.assert_allclose(parsed["bbox"], [[0.1, 0.2, 0.6, 0.9]], rtol=1e-6)
    np.testing.assert_allclose(parsed["logits"], [0.5, -1.0, 2.0])


def test_hand_written_original_imagenet_record_parses(tf):
    """A record as the TF1 build_imagenet_data.py wrote it (xmin,ymin,... lists, 1-based label)."""
    feature = {
        "image/height": _feature(tf, "int", [8]), "image/width": _feature(tf, "int", [10]),
        "image/colorspace": _feature(tf, "bytes", [b"RGB"]),
        "image/channels": _feature(tf, "int", [3]),
        "image/class/label": _feature(tf, "int", [417]),
        "image/class/synset": _feature(tf, "bytes", [b"n02782093"]),
        "image/class/text": _feature(tf, "bytes", [b"balloon"]),
        "image/object/bbox/xmin": _feature(tf, "float", [0.1, 0.5]),
        "image/object/bbox/xmax": _feature(tf, "float", [0.4, 0.9]),
        "image/object/bbox/ymin": _feature(tf, "float", [0.2, 0.6]),
        "image/object/bbox/ymax": _feature(tf, "float", [0.3, 0.7]),
        "image/object/bbox/label": _feature(tf, "int", [417, 417]),
        "image/logit": _feature(tf, "float", list(np.arange(1001, dtype=np.float32))),
        "image/format": _feature(tf, "bytes", [b"JPEG"]),
        "image/filename": _feature(tf, "bytes", [b"n02782093_1.JPEG"]),
        "image/encoded": _feature(tf, "bytes", [b"\xff\xd8jpeg"]),
    }
    record = tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
    parsed = _parse(tf, record, with_logits=True, num_logits=1001)
    assert parsed["label"] == 417
    assert parsed["filename"] == b"n02782093_1.JPEG"
    np.testing.assert_allclose(parsed["bbox"], [[0.2, 0.1, 0.3, 0.4], [0.6, 0.5, 0.7, 0.9]])
    assert parsed["logits"].shape == (1001,) and parsed["logits"][1000] == 1000.0
    assert "logits" not in _parse(tf, record)


def test_model_garden_subset_gets_defaults(tf):
    feature = {"image/encoded": _feature(tf, "bytes", [b"abc"]),
               "image/class/label": _feature(tf, "int", [5])}
    record = tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
    parsed = _parse(tf, record)
    assert parsed["image_bytes"] == b"abc" and parsed["label"] == 5
    assert parsed["filename"] == b"" and parsed["bbox"].shape == (0, 4)
    unlabelled = tf.train.Example(features=tf.train.Features(
        feature={"image/encoded": feature["image/encoded"]})).SerializeToString()
    assert _parse(tf, unlabelled)["label"] == -1


def test_missing_logits_error_names_the_key(tf):
    record = schema.make_example(b"x", 1).SerializeToString()
    with pytest.raises(tf.errors.InvalidArgumentError, match="image/logit"):
        _parse(tf, record, with_logits=True, num_logits=4)


def test_wrong_logit_count_is_rejected(tf):
    record = schema.make_example(b"x", 1, logits=[1.0, 2.0]).SerializeToString()
    with pytest.raises(tf.errors.InvalidArgumentError, match="wrong length"):
        _parse(tf, record, with_logits=True, num_logits=3)


def test_add_logits_writes_and_replaces(tf):
    record = schema.make_example(b"img", 3, filename="f.jpg").SerializeToString()
    with_logits = schema.add_logits(record, np.array([1.5, 2.5, 3.5]))
    parsed = _parse(tf, with_logits, with_logits=True, num_logits=3)
    np.testing.assert_allclose(parsed["logits"], [1.5, 2.5, 3.5])
    assert parsed["image_bytes"] == b"img" and parsed["label"] == 3
    replaced = schema.add_logits(with_logits, [9.0, 8.0, 7.0])
    np.testing.assert_allclose(_parse(tf, replaced, with_logits=True)["logits"], [9.0, 8.0, 7.0])
    with pytest.raises(ValueError):
        schema.add_logits(record, [])


def test_bad_bbox_shape_and_non_bytes_are_rejected():
    with pytest.raises(ValueError, match="ymin, xmin, ymax, xmax"):
        schema.make_example(b"x", 0, bboxes=[(0.1, 0.2, 0.3)])
    with pytest.raises(TypeError):
        schema.make_example("not bytes", 0)

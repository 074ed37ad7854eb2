"""generate CLI end to end on 8 tiny records, resumable; then evaluate on the sets."""

import io
import json
import os

import numpy as np
import tensorflow as tf
from PIL import Image

from assembled_cnn.datasets import schema
from assembled_cnn.robustness import compute_mce, generate
from assembled_cnn.robustness.evaluate import OnTheFly, TFRecordSets, evaluate_corruption_errors


def _write_clean(folder):
    rng = np.random.default_rng(0)
    path = os.path.join(folder, "validation-00000-of-00001")
    with tf.io.TFRecordWriter(path) as writer:
        for i in range(8):
            buffer = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(buffer, "JPEG")
            writer.write(schema.make_example(buffer.getvalue(), i % 3, filename=f"img{i}.jpg",
                                             height=40, width=50).SerializeToString())


def test_generate_end_to_end_and_resume(tmp_path):
    clean, out = str(tmp_path / "clean"), str(tmp_path / "out")
    os.makedirs(clean)
    _write_clean(clean)
    argv = ["--data_dir", clean, "--output_dir", out, "--corruptions", "gaussian_noise", "contrast",
            "--severities", "1", "5", "--resize", "36", "--crop", "32", "--num_shards", "2"]
    generate.main(argv)
    shard = os.path.join(out, "contrast", "5", "validation-00001-of-00002")
    records = list(tf.data.TFRecordDataset(
        [os.path.join(out, "contrast", "5", f"validation-0000{i}-of-00002") for i in (0, 1)]))
    assert len(records) == 8
    parsed = schema.parse_example(records[3])
    assert int(parsed["label"]) == 0 and parsed["filename"].numpy() == b"img3.jpg"
    assert tf.io.decode_jpeg(parsed["image_bytes"]).shape == (32, 32, 3)
    with open(os.path.join(out, "gaussian_noise", "1", "done.json")) as handle:
        assert json.load(handle)["num_images"] == 8
    # resume: a finished set is kept; a set with a missing shard and no marker is completed
    mtime = os.path.getmtime(shard)
    os.remove(os.path.join(out, "gaussian_noise", "5", "done.json"))
    os.remove(os.path.join(out, "gaussian_noise", "5", "validation-00000-of-00002"))
    generate.main(argv)
    assert os.path.getmtime(shard) == mtime
    assert os.path.exists(os.path.join(out, "gaussian_noise", "5", "validation-00000-of-00002"))

    def predict(images):
        return tf.zeros([tf.shape(images)[0]], tf.int64)  # always class 0

    errors = evaluate_corruption_errors(predict, TFRecordSets(out), ["contrast"], severities=(1, 5))
    assert errors["contrast"] == [5 / 8, 5 / 8]
    clean_images = tf.data.Dataset.from_tensor_slices(
        (np.zeros((4, 32, 32, 3), np.uint8), np.array([0, 0, 1, 2])))
    otf = evaluate_corruption_errors(predict, OnTheFly(clean_images), ["fog"], severities=(1,))
    assert otf["fog"] == [0.5]
    assert compute_mce({"fog": [0.5] * 5})["mce_all"] > 0

"""Offline teacher-logit extraction: exact logits, untouched records, offset, resume, jobs."""

import io
import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from assembled_cnn.datasets import schema
from assembled_cnn.kd.extract_logits import (KD_INFO_FILE, TEMP_PREFIX, extract_logits,
                                             list_shards, main)
from assembled_cnn.model_dir import save_model_checkpoint, save_model_config
from assembled_cnn.nets import build_model, model_info
from assembled_cnn.preprocessing import CHANNEL_MEANS
from kd_testlib import (NUM_CLASSES, features_without_logit, logits_of, read_records,
                        write_shards)

COUNTS = {"train-00000-of-00002": 5, "train-00001-of-00002": 4, "validation-00000-of-00001": 3}


@pytest.fixture(scope="module")
def teacher():
    tf.keras.utils.set_random_seed(1)
    return build_model("resnet18", num_filters=8, num_classes=NUM_CLASSES, input_size=32)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kd_in")
    records = write_shards(folder, COUNTS)
    (folder / "dataset_info.json").write_text(json.dumps({"num_classes": NUM_CLASSES}))
    (folder / "README.txt").write_text("not a shard")
    return folder, records


@pytest.fixture(scope="module")
def extracted(teacher, data, tmp_path_factory):
    folder, _ = data
    output = tmp_path_factory.mktemp("kd_out")
    summary = extract_logits(teacher, str(folder), str(output), "cifar", batch_size=2,
                             show_progress=False)
    return output, summary


def expected_logits(model, serialized: bytes) -> np.ndarray:
    """Independent recomputation: PIL decode, mean subtraction, one image at a time."""
    parsed = tf.train.Example.FromString(serialized)
    encoded = parsed.features.feature[schema.KEY_ENCODED].bytes_list.value[0]
    pixels = np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB"), np.float32)
    image = pixels - np.asarray(CHANNEL_MEANS, np.float32)
    return np.asarray(model(image[None], training=False))[0]


def test_records_carry_the_teachers_logits_and_nothing_else_changes(teacher, data, extracted):
    folder, records = data
    output, summary = extracted
    assert sorted(p.name for p in output.iterdir()) == sorted(
        [*COUNTS, "dataset_info.json", KD_INFO_FILE])
    for name, originals in records.items():
        written = read_records(output / name)
        assert len(written) == len(originals)
        for original, new in zip(originals, written):
            assert features_without_logit(new) == features_without_logit(original)
            np.testing.assert_allclose(logits_of(new), expected_logits(teacher, original),
                                       rtol=1e-4, atol=1e-4)
    assert summary.count == sum(COUNTS.values()) and summary.num_logits == NUM_CLASSES


def test_kd_info_reports_count_dimension_and_teacher_top1(data, extracted):
    folder, records = data
    output, summary = extracted
    info = json.loads((output / KD_INFO_FILE).read_text())
    correct = total = 0
    for name in COUNTS:
        for record in read_records(output / name):
            parsed = schema.parse_example(record, with_logits=True)
            correct += int(np.argmax(parsed["logits"]) == int(parsed["label"]))
            total += 1
    assert info["count"] == total == 12 and info["num_logits"] == NUM_CLASSES
    assert info["teacher_top1"] == pytest.approx(correct / total)
    assert info["teacher"].startswith("keras:") and info["preprocessing"] == "cifar"
    assert [s["name"] for s in info["shards"]] == list(COUNTS)
    assert json.loads((output / "dataset_info.json").read_text()) == {"num_classes": 10}


def test_offset_prepends_zero_logits(teacher, data, extracted, tmp_path):
    folder, _ = data
    output, _ = extracted
    summary = extract_logits(teacher, str(folder), str(tmp_path), "cifar", batch_size=4,
                             offset=1, patterns=["validation-*"], show_progress=False)
    assert summary.num_logits == NUM_CLASSES + 1
    name = "validation-00000-of-00001"
    for plain, shifted in zip(read_records(output / name), read_records(tmp_path / name)):
        values = logits_of(shifted)
        assert values[0] == 0.0
        np.testing.assert_allclose(values[1:], logits_of(plain), rtol=1e-4, atol=1e-4)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [name, "dataset_info.json", KD_INFO_FILE])


def test_resume_keeps_finished_shards(teacher, data, extracted, tmp_path):
    folder, _ = data
    output, _ = extracted
    kept = ["train-00000-of-00002", "validation-00000-of-00001"]
    for name in kept:
        (tmp_path / name).write_bytes((output / name).read_bytes())
    (tmp_path / (TEMP_PREFIX + "train-00001-of-00002")).write_bytes(b"crashed half-way")

    def zero_teacher(images):  # a different teacher: only recomputed shards get zeros
        return tf.zeros([tf.shape(images)[0], NUM_CLASSES])
    summary = extract_logits(zero_teacher, str(folder), str(tmp_path), "cifar",
                             show_progress=False)
    assert [s.reused for s in summary.shards] == [True, False, True]
    for name in kept:
        assert (tmp_path / name).read_bytes() == (output / name).read_bytes()
    redone = read_records(tmp_path / "train-00001-of-00002")
    assert len(redone) == 4 and all(not logits_of(r).any() for r in redone)
    assert not (tmp_path / (TEMP_PREFIX + "train-00001-of-00002")).exists()
    assert json.loads((tmp_path / KD_INFO_FILE).read_text())["count"] == 12


def test_jobs_split_shards_and_the_last_one_writes_kd_info(teacher, data, tmp_path):
    folder, _ = data
    first = extract_logits(teacher, str(folder), str(tmp_path), "cifar", num_jobs=2,
                           job_index=0, show_progress=False)
    assert not first.complete and not (tmp_path / KD_INFO_FILE).exists()
    assert [s.name for s in first.shards] == ["train-00000-of-00002", "validation-00000-of-00001"]
    second = extract_logits(teacher, str(folder), str(tmp_path), "cifar", num_jobs=2,
                            job_index=1, show_progress=False)
    assert second.complete and second.count == 12
    assert json.loads((tmp_path / KD_INFO_FILE).read_text())["count"] == 12


def test_bad_arguments_fail_with_the_flag_named(teacher, data, tmp_path):
    folder, _ = data
    with pytest.raises(ValueError, match="--output_dir must differ"):
        extract_logits(teacher, str(folder), str(folder), "cifar")
    with pytest.raises(FileNotFoundError, match="--pattern"):
        list_shards(str(folder), ["test-*"])
    with pytest.raises(ValueError, match="--preprocessing_type"):
        extract_logits(teacher, str(folder), str(tmp_path), "imagenet")  # 224 px, model: 32
    with pytest.raises(ValueError, match="--job_index"):
        extract_logits(teacher, str(folder), str(tmp_path), "cifar", num_jobs=2, job_index=2)


def test_command_line_with_a_model_dir_teacher(teacher, data, tmp_path, capsys):
    folder, _ = data
    model_dir = tmp_path / "teacher"
    save_model_config(str(model_dir), model_info(teacher).config)
    save_model_checkpoint(str(model_dir), teacher)
    output = tmp_path / "out"
    code = main(["--teacher", str(model_dir), "--data_dir", str(folder), "--output_dir",
                 str(output), "--preprocessing_type", "cifar", "--pattern", "validation-*",
                 "--no_progress"])
    assert code == 0 and "3 records, 10 logits" in capsys.readouterr().out
    info = json.loads((output / KD_INFO_FILE).read_text())
    assert info["teacher"] == f"model_dir:{model_dir}"
    assert main(["--teacher", str(tmp_path / "nothing"), "--data_dir", str(folder),
                 "--output_dir", str(output)]) == 2
    assert "neither a model_dir" in capsys.readouterr().err

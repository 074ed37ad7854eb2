"""Runner options: --clean ordering, mixed precision, EMA evaluation, offline and online KD."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from trainlib import NUM_CLASSES, toy_config, write_toy_dataset

from assembled_cnn.config import ConfigError
from assembled_cnn.datasets import schema
from assembled_cnn.train.clean import clean_model_dir
from assembled_cnn.train.runner import Runner
from assembled_cnn.train.summaries import read_metrics

REPO = Path(__file__).resolve().parents[2]


def quick(toy_data, model_dir, **overrides):
    overrides.setdefault("run", {})
    overrides["run"] = {"op_determinism": False, "mode": "train", **overrides["run"]}
    overrides.setdefault("train", {})
    overrides["train"] = {"max_train_steps": 2, **overrides["train"]}
    return Runner(toy_config(toy_data, model_dir, **overrides))


def test_clean_removes_an_earlier_runs_files_but_keeps_what_it_did_not_write(toy_data, tmp_path):
    first = quick(toy_data, tmp_path)
    first.train()
    first.close()
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "ckpt-99.index").write_text("stale")  # a run file from an even older run
    assert (tmp_path / "metrics.jsonl").exists() and (tmp_path / "train").is_dir()
    runner = quick(toy_data, tmp_path, run={"clean": True}, train={"max_train_steps": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # cleaned before anything is written
    runner.train()
    runner.close()
    assert (tmp_path / "notes.txt").read_text() == "mine" and not (tmp_path / "ckpt-99.index").exists()
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-1")
    hparams = json.loads((tmp_path / "hparams.json").read_text())
    assert hparams["run"]["clean"] is True and hparams["model"]["resnet_size"] == 18
    assert [r["step"] for r in read_metrics(str(tmp_path), "train")] == [1]


def test_clean_refuses_a_folder_that_is_not_a_model_dir_and_deletes_nothing(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(b"x")
    (tmp_path / "checkpoint").write_text("someone else's")
    with pytest.raises(ConfigError, match=r"--clean refused: --model_dir=.* is not a model_dir"):
        clean_model_dir(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint", "photos"]
    assert clean_model_dir(str(tmp_path / "new")) == []  # a folder that does not exist yet: nothing to do


def test_clean_on_tmp_and_a_missing_model_dir_are_one_line_errors(toy_data, tmp_path):
    base = [sys.executable, str(REPO / "main_classification.py"), "--dataset_name=toy", f"--data_dir={toy_data}",
            "--model=resnet18", "--num_filters=8", "--preprocessing_type=cifar", "--max_train_steps=1",
            "--mode=train"]
    environ = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    canary = Path(tempfile.mkdtemp(dir="/tmp", prefix="clean_canary_")) / "keep.txt"
    canary.write_text("mine")
    for extra, message in ((["--model_dir=/tmp", "--clean"], "--clean refused: --model_dir=/tmp is not a model_dir"),
                           ([], "--model_dir is required")):
        out = subprocess.run(base + extra, capture_output=True, text=True, env=environ)
        assert out.returncode == 2, out.stderr[-2000:]
        assert message in out.stderr and "Traceback" not in out.stderr
        assert out.stderr.strip().splitlines()[-1].startswith("error: ")
    assert canary.read_text() == "mine"  # nothing in /tmp was deleted
    shutil.rmtree(canary.parent)


@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_mixed_precision_trains_with_float32_master_weights(toy_data, tmp_path, dtype):
    runner = quick(toy_data, tmp_path, train={"dtype": dtype})
    runner.train()
    assert runner.model.get_layer("s1_b0_conv2").compute_dtype == {"bf16": "bfloat16", "fp16": "float16"}[dtype]
    assert all(w.dtype == "float32" for w in runner.model.trainable_weights)
    losses = [r["loss"] for r in read_metrics(str(tmp_path), "train")]
    assert losses and all(np.isfinite(losses))
    runner.close()


def test_evaluation_uses_the_ema_copy(toy_data, tmp_path):
    runner = quick(toy_data, tmp_path, train={"ema_decay": 0.5, "max_train_steps": 4})
    runner.train()
    live = [w.numpy() for w in runner.model.weights]
    shadow = [s.numpy() for s in runner.parts.ema.shadow]
    assert any(not np.allclose(a, b) for a, b in zip(live, shadow))
    with_ema = runner.evaluate()
    assert all(np.array_equal(w.numpy(), v) for w, v in zip(runner.model.weights, live))  # swapped back
    for weight, value in zip(runner.parts.ema._weights, shadow):
        weight.assign(value)
    runner.parts.ema = None
    assert runner.evaluate()["loss"] == pytest.approx(with_ema["loss"], rel=1e-6)
    runner.close()


def test_offline_distillation_reads_teacher_logits_from_the_records(tmp_path):
    data = write_toy_dataset(tmp_path / "data", train=64, validation=32, shards=2)
    for path in sorted(data.glob("train-*")):  # validation records need no logits
        records = [r.numpy() for r in tf.data.TFRecordDataset(str(path))]
        with tf.io.TFRecordWriter(str(path)) as writer:
            for i, record in enumerate(records):
                writer.write(schema.add_logits(record, np.eye(NUM_CLASSES, dtype=np.float32)[i % NUM_CLASSES] * 3))
    runner = quick(data, tmp_path / "run", data={"kd_temp": 2.0})
    runner.train()
    rows = read_metrics(str(tmp_path / "run"), "train")
    assert rows and all(r["distillation"] > 0 for r in rows)
    runner.close()


def test_online_teacher_runs_inside_the_train_step(toy_data, tmp_path):
    teacher = quick(toy_data, tmp_path / "teacher")
    teacher.train()
    teacher.close()
    runner = quick(toy_data, tmp_path / "student",
                   data={"kd_temp": 1.0}, train={"online_teacher": str(tmp_path / "teacher")})
    runner.train()
    rows = read_metrics(str(tmp_path / "student"), "train")
    assert rows and all(r["distillation"] > 0 for r in rows)
    runner.close()

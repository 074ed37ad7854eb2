"""Runner options: --clean ordering, mixed precision, EMA evaluation, offline and online KD."""

import json

import numpy as np
import pytest
import tensorflow as tf
from trainlib import NUM_CLASSES, toy_config, write_toy_dataset

from assembled_cnn.datasets import schema
from assembled_cnn.train.runner import Runner
from assembled_cnn.train.summaries import read_metrics


def quick(toy_data, model_dir, **overrides):
    overrides.setdefault("run", {})
    overrides["run"] = {"op_determinism": False, "mode": "train", **overrides["run"]}
    overrides.setdefault("train", {})
    overrides["train"] = {"max_train_steps": 2, **overrides["train"]}
    return Runner(toy_config(toy_data, model_dir, **overrides))


def test_clean_removes_the_old_model_dir_before_hparams_json_is_written(toy_data, tmp_path):
    (tmp_path / "stale.txt").write_text("old run")
    runner = quick(toy_data, tmp_path, run={"clean": True})
    runner.train()
    runner.close()
    assert not (tmp_path / "stale.txt").exists()
    hparams = json.loads((tmp_path / "hparams.json").read_text())
    assert hparams["run"]["clean"] is True and hparams["model"]["resnet_size"] == 18


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
    shadow = [s.numpy() for s in runner.ema.shadow]
    assert any(not np.allclose(a, b) for a, b in zip(live, shadow))
    with_ema = runner.evaluate()
    assert all(np.array_equal(w.numpy(), v) for w, v in zip(runner.model.weights, live))  # swapped back
    for weight, value in zip(runner.ema._weights, shadow):
        weight.assign(value)
    runner.ema = None
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

"""FixRes stage 2 on toy data: starts from the whole stage-1 network (classifier included),
freezes all but the classifier in `classifier_bn` mode while BN statistics re-estimate, and
evaluates at the test size; `evaluate_at_size` leaves the model_dir untouched."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from assembled_cnn.model_dir import restore_model
from assembled_cnn.train.runner import run
from assembled_cnn.transfer.fixres import FixResConfig, evaluate_at_size, fixres_finetune

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from trainlib import toy_config, write_toy_dataset  # noqa: E402


def _weights(model_dir: str) -> dict[str, np.ndarray]:
    model = restore_model(model_dir)
    return {f"{layer.name}/{w.name}": w.numpy() for layer in model.layers for w in layer.weights}


def test_fixres_stage2_keeps_the_classifier_and_freezes_the_body(tmp_path):
    data = write_toy_dataset(tmp_path / "toy", train=64, validation=32, shards=1)
    stage1 = tmp_path / "stage1"
    config = toy_config(data, stage1, data={"train_size": 24, "test_size": 24},
                        train={"max_train_steps": 3, "batch_size": 16}, run={"save_checkpoints_steps": 3})
    run(config)
    before = _weights(str(stage1))
    files_before = sorted(p.name for p in stage1.iterdir())
    at32 = evaluate_at_size(str(stage1), config, 32)
    assert at32["num_examples"] == 32 and sorted(p.name for p in stage1.iterdir()) == files_before

    metrics = fixres_finetune(config, str(stage1), 32, lr=0.05, max_train_steps=2, model_dir=str(tmp_path / "s2"))
    assert metrics["num_examples"] == 32 and 0.0 <= metrics["top1"] <= 1.0
    after = _weights(str(tmp_path / "s2"))
    convs = [k for k in before if k.endswith("/kernel") and not k.startswith("logits")]
    assert convs and all(np.array_equal(before[k], after[k]) for k in convs)
    assert not np.array_equal(before["logits/kernel"], after["logits/kernel"])
    assert any(not np.allclose(before[k], after[k]) for k in before if k.endswith("moving_mean"))


def test_fixres_config_errors():
    with pytest.raises(ValueError, match="train_layers"):
        FixResConfig(test_size=32, train_layers="bn_only")


def test_warm_start_head_only_from_a_model_dir_of_ours(tmp_path):
    from assembled_cnn.config import ConfigError
    from assembled_cnn.nets import build_model
    from assembled_cnn.train.checkpoints import warm_start

    weights = tmp_path / "resnet18.pth"
    weights.write_bytes(b"not read")
    with pytest.raises(ConfigError, match="--warm_start_head needs a model_dir"):
        warm_start(build_model("resnet18", num_classes=3, num_filters=8), str(weights), False, include_head=True)

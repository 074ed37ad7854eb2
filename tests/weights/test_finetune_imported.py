"""Fine-tuning from imported PyTorch weights through `main_classification.py -pmcp FILE.pth`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_torchvision_resnet import WIDTH, _random_torchvision_state_dict
from torch_files import write_zip

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "train"))

from trainlib import write_toy_dataset  # noqa: E402


@pytest.mark.slow
def test_main_classification_warm_starts_from_a_pth(tmp_path):
    source = tmp_path / "r18.pth"
    write_zip(source, _random_torchvision_state_dict(18, np.random.default_rng(8)))  # 6-class head: skipped
    data, model_dir = write_toy_dataset(tmp_path / "data", train=64, validation=32, shards=1), tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        [sys.executable, str(REPO / "main_classification.py"), "--dataset_name=toy", f"--data_dir={data}",
         f"--model_dir={model_dir}", "--model=resnet18", f"--num_filters={WIDTH}", "--preprocessing_type=cifar",
         "--batch_size=32", "--train_epochs=1", "--base_learning_rate=0.01", "--mode=train",
         f"--pretrained_model_checkpoint_path={source}"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((model_dir / "warm_start.json").read_text())
    assert report["format"] == "torch" and "logits/kernel" in report["not_restored"]
    assert "stem_conv/kernel" in report["restored"] and len(report["restored"]) == 60  # 102 - fc (2) - BN stats (40)
    assert any("stem_pool_padding" in note for note in report["notes"])  # no flag for it yet: inexact pool

"""The transfer study starts from weights imported from a PyTorch file (`import_weights` model_dir):
fixed features and fine-tuning both run from it, and fine-tuning starts from the imported body."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from test_torchvision_resnet import WIDTH, _random_torchvision_state_dict
from torch_files import write_zip

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))

from trainlib import write_toy_dataset  # noqa: E402

from assembled_cnn.tools import import_weights  # noqa: E402
from assembled_cnn.transfer import study  # noqa: E402


@pytest.mark.slow
def test_study_runs_fixed_and_finetune_from_an_imported_pth(tmp_path):
    source = tmp_path / "r18.pth"
    write_zip(source, _random_torchvision_state_dict(18, np.random.default_rng(3)))
    imported = tmp_path / "imported"
    assert import_weights.main(["--source", str(source), "--model", "resnet18", "--num_filters", str(WIDTH),
                                "--num_classes", "6", "--model_dir", str(imported)]) == 0
    data = write_toy_dataset(tmp_path / "toy", train=48, validation=16, shards=2)
    out = tmp_path / "out"
    assert study.main(["--models", "torch_r18", "--datasets", str(data), "--regimes", "fixed,finetune",
                       "--seeds", "1", "--output_dir", str(out), "--tiny", "--preprocessing_type", "cifar",
                       "--max_train_steps", "1", "--subset_per_class", "6",
                       "--pretrained", f"torch_r18={imported}"]) == 0
    cells = {p.parent.name: json.loads(p.read_text()) for p in out.glob("cells/toy/torch_r18/*/seed0.json")}
    assert sorted(cells) == ["finetune", "fixed"]
    assert all(0.0 <= cell["top1"] <= 1.0 for cell in cells.values())
    run = next(out.glob("runs/toy/torch_r18/finetune/seed0"))
    report = json.loads((run / "warm_start.json").read_text())
    assert report["source"].startswith(str(imported)) and "stem_conv/kernel" in report["restored"]
    assert len(report["restored"]) == 60 and "logits/kernel" in report["not_restored"]  # the body, not the head

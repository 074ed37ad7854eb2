"""(c) Fashion-MNIST pretraining vs random init and (d) fixed features vs fine-tuning, on a
small labelled subset of MNIST, through the transfer study CLI.

    python scripts/results/exp_transfer.py

The "pretrained" models are seed 0 of experiment (a) (vanilla and assembled, trained on
Fashion-MNIST at 32 px), so run exp_assembled.py first. Regimes: fixed (linear probe on the
frozen features), finetune (warm start, new head), random (same recipe from scratch); 3
seeds, each seed drawing its own 50-per-class subset of MNIST train; tested on the full
MNIST test split.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from assembled_cnn.transfer import study  # noqa: E402

PER_CLASS = 50
EPOCHS = 15
BATCH_SIZE = 64
LEARNING_RATE = 0.03
OUT = common.RESULTS_DIR / "cd_transfer"


def pretrained_dirs() -> dict[str, str]:
    dirs = {v: str(common.RESULTS_DIR / "a_assembled" / "runs" / "fashion_mnist" / v / "seed0")
            for v in ("vanilla", "assembled")}
    missing = [d for d in dirs.values() if not Path(d, "model_config.json").is_file()]
    if missing:
        raise SystemExit(f"pretrained models missing ({missing}); run scripts/results/exp_assembled.py first")
    return dirs


def argv() -> list[str]:
    dirs = pretrained_dirs()
    common.ensure_dataset("mnist")
    return ["--models", ",".join(dirs), "--datasets", "mnist", "--data_root", str(common.DATA_ROOT),
            "--regimes", "fixed,finetune,random", "--seeds", str(len(common.SEEDS)),
            "--output_dir", str(OUT), "--pretrained", ",".join(f"{k}={v}" for k, v in dirs.items()),
            "--subset_per_class", str(PER_CLASS), "--epochs", str(EPOCHS), "--batch_size", str(BATCH_SIZE),
            "--learning_rate", str(LEARNING_RATE), "--weight_decay", str(common.WEIGHT_DECAY),
            "--preprocessing_type", "mnist", "--image_size", str(common.IMAGE_SIZE),
            "--bn_momentum", str(common.BN_MOMENTUM)]


if __name__ == "__main__":
    sys.exit(study.main(argv()))

"""(e) FixRes: train at 24 px, test at 24 and at 32 px, with and without the FixRes stage 2.

    python scripts/results/exp_fixres.py

Fashion-MNIST, vanilla resnet18-shaped network (16 filters), 3 seeds. Stage 1: the usual
recipe at 24 px. Stage 2 (``assembled_cnn.transfer.fixres.fixres_finetune``): a short, low-LR
fine-tune at 32 px starting from the whole stage-1 network, either classifier only with BN
statistics re-estimated (``classifier_bn``) or all layers. A control fine-tunes the same
number of steps at 24 px, to separate "more training" from "adapting to the test size".
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from assembled_cnn.transfer.fixres import evaluate_at_size, fixres_finetune  # noqa: E402

DATASET = "fashion_mnist"
TRAIN_SIZE, TEST_SIZE = 24, 32
STAGE2_STEPS = 40
STAGE2_LR = 0.01
OUT = common.RESULTS_DIR / "e_fixres"


def numbers(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float))}


def run_seed(data_dir: str, seed: int) -> dict:
    stage1_dir = str(OUT / "runs" / f"seed{seed}" / "stage1")
    config = common.small_resnet_config(DATASET, data_dir, stage1_dir, seed, train_size=TRAIN_SIZE,
                                        test_size=TRAIN_SIZE)

    def compute() -> dict:
        result = {"seed": seed, "train24_test24": numbers(common.train(config)),
                  "train24_test32": numbers(evaluate_at_size(stage1_dir, config, TEST_SIZE, batch_size=500))}
        for name, size, layers in (("fixres32_classifier_bn", TEST_SIZE, "classifier_bn"),
                                   ("fixres32_all", TEST_SIZE, "all"),
                                   ("control24_all", TRAIN_SIZE, "all")):
            metrics = fixres_finetune(config, stage1_dir, size, lr=STAGE2_LR, train_layers=layers,
                                      max_train_steps=STAGE2_STEPS,
                                      model_dir=str(OUT / "runs" / f"seed{seed}" / name))
            result[name] = numbers(metrics)
        result["settings"] = common.settings_dict(config)
        return result
    return common.cached(OUT / f"seed{seed}.json", compute)


def main() -> None:
    data_dir = common.ensure_dataset(DATASET)
    for seed in common.SEEDS:
        result = run_seed(data_dir, seed)
        print(f"[e] seed{seed}: " + ", ".join(f"{k}={v['top1']:.4f}" for k, v in result.items()
                                              if isinstance(v, dict) and "top1" in v), flush=True)


if __name__ == "__main__":
    main()

"""(b) Knowledge distillation: a small student with and without a wider teacher's soft targets.

    python scripts/results/exp_kd.py

Fashion-MNIST at the ``mnist`` preset's native 28 px (the size the extract_logits CLI's
``--preprocessing_type mnist`` uses). The teacher (resnet18-shaped, 32 filters, 2× the
student's steps) is trained once; its logits are written into a copy of the TFRecords by
``python -m assembled_cnn.kd.extract_logits``; students (8 filters) then train with
``kd_temp`` (loss CE + T²·KL) or without, 3 seeds each, the same recipe otherwise.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

DATASET = "fashion_mnist"
SIZE = 28
TEACHER_FILTERS, STUDENT_FILTERS = 32, 8
TEACHER_STEPS = 2 * common.TRAIN_STEPS
KD_TEMP = 4.0
OUT = common.RESULTS_DIR / "b_kd"


def teacher(data_dir: str) -> tuple[str, dict]:
    model_dir = str(OUT / "teacher")
    config = common.small_resnet_config(DATASET, data_dir, model_dir, seed=100, num_filters=TEACHER_FILTERS,
                                        steps=TEACHER_STEPS, train_size=SIZE, test_size=SIZE)
    result = common.cached(OUT / "teacher.json", lambda: {"test": common.train(config),
                                                           "settings": common.settings_dict(config)})
    return model_dir, result


def logits_dir(teacher_dir: str, data_dir: str) -> str:
    output = OUT / "fashion_mnist_teacher_logits"
    if not (output / "kd_info.json").is_file():
        subprocess.run([sys.executable, "-m", "assembled_cnn.kd.extract_logits", "--teacher", teacher_dir,
                        "--data_dir", data_dir, "--output_dir", str(output), "--preprocessing_type", "mnist",
                        "--batch_size", "500", "--no_progress"], check=True, cwd=common.REPO)
    return str(output)


def student(data_dir: str, kd_dir: str, seed: int, use_kd: bool) -> dict:
    name = "kd" if use_kd else "no_kd"
    model_dir = str(OUT / "runs" / name / f"seed{seed}")
    extra = {"kd_temp": KD_TEMP} if use_kd else {}
    config = common.small_resnet_config(DATASET, kd_dir if use_kd else data_dir, model_dir, seed,
                                        num_filters=STUDENT_FILTERS, train_size=SIZE, test_size=SIZE, **extra)
    return common.cached(OUT / name / f"seed{seed}.json",
                         lambda: {"variant": name, "seed": seed, "test": common.train(config),
                                  "settings": common.settings_dict(config)})


def main() -> None:
    data_dir = common.ensure_dataset(DATASET)
    teacher_dir, teacher_result = teacher(data_dir)
    print(f"[b] teacher top1={teacher_result['test']['top1']:.4f}", flush=True)
    kd_dir = logits_dir(teacher_dir, data_dir)
    for seed in common.SEEDS:
        for use_kd in (False, True):
            result = student(data_dir, kd_dir, seed, use_kd)
            print(f"[b] {result['variant']} seed{seed}: top1={result['test']['top1']:.4f}", flush=True)


if __name__ == "__main__":
    main()

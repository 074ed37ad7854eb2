"""(a) Assembled vs vanilla small ResNet: clean test accuracy and mCE on corrupted test images.

    python scripts/results/exp_assembled.py

Per dataset and seed: a vanilla resnet18-shaped network (16 filters) and the same with
ResNet-D + SK + anti-alias + DropBlock + zero-γ, trained with mixup + label smoothing. The
corruption test set: a fixed random subset of the test split (seed 0), eval-preprocessed to
32 px, each of the 15 common corruptions at severities 1–5 applied on the fly by
``assembled_cnn.robustness.corruptions.corrupt`` once and cached (it does not depend on the
model), then every model is scored on it and ``compute_mce`` gives CE / mCE.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from assembled_cnn.datasets import schema  # noqa: E402
from assembled_cnn.model_dir import restore_model  # noqa: E402
from assembled_cnn.preprocessing import get_preset, preprocess_image  # noqa: E402
from assembled_cnn.preprocessing.normalize import normalize_image  # noqa: E402
from assembled_cnn.robustness.corruptions import corrupt, get_corruption_names  # noqa: E402
from assembled_cnn.robustness.mce import compute_mce  # noqa: E402
from assembled_cnn.utils.io import write_json_atomic  # noqa: E402

NUM_CORRUPTION_IMAGES = 500
SEVERITIES = (1, 2, 3, 4, 5)
VARIANTS = ("vanilla", "assembled")
OUT = common.RESULTS_DIR / "a_assembled"


def clean_subset(data_dir: str, count: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` test images (a fixed seed-0 draw), eval-preprocessed to 32 px RGB uint8."""
    files = sorted(tf.io.gfile.glob(f"{data_dir}/validation-*"))
    records = list(tf.data.TFRecordDataset(files).as_numpy_iterator())
    chosen = np.sort(np.random.default_rng(0).choice(len(records), count, replace=False))
    preset = get_preset("mnist", train_size=common.IMAGE_SIZE, eval_size=common.IMAGE_SIZE,
                        normalization="none")
    images, labels = [], []
    for index in chosen:
        parsed = schema.parse_example(records[index])
        image = preprocess_image(parsed["image_bytes"], False, preset)
        images.append(np.clip(np.round(image.numpy()), 0, 255).astype(np.uint8))
        labels.append(int(parsed["label"]))
    return np.stack(images), np.asarray(labels)


def corrupted_sets(dataset: str, data_dir: str) -> dict[str, np.ndarray]:
    """{'clean', 'labels', '<corruption>_<severity>'} cached as one .npz per dataset."""
    path = OUT / f"corrupted_{dataset}_n{NUM_CORRUPTION_IMAGES}.npz"
    if path.is_file():
        return dict(np.load(path))
    started = time.perf_counter()
    clean, labels = clean_subset(data_dir, NUM_CORRUPTION_IMAGES)
    arrays = {"clean": clean, "labels": labels}
    for name in get_corruption_names("common"):
        for severity in SEVERITIES:
            arrays[f"{name}_{severity}"] = corrupt(tf.constant(clean), name, severity, seed=0).numpy()
        print(f"corrupted {dataset}: {name}", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.rename(path)
    write_json_atomic(str(path.with_suffix(".json")), {"seconds": round(time.perf_counter() - started, 1)})
    return arrays


def robustness(model_dir: str, sets: dict[str, np.ndarray]) -> dict:
    model = restore_model(model_dir)
    predict = tf.function(lambda x: tf.argmax(model(normalize_image(x), training=False), -1),
                          reduce_retracing=True)

    def error(images: np.ndarray) -> float:
        predicted = np.concatenate([predict(tf.constant(images[i:i + 250], tf.float32)).numpy()
                                    for i in range(0, len(images), 250)])
        return float(np.mean(predicted != sets["labels"]))
    errors = {name: [error(sets[f"{name}_{s}"]) for s in SEVERITIES] for name in get_corruption_names("common")}
    clean_error = error(sets["clean"])
    result = compute_mce(errors, clean_error=clean_error)
    return {"clean_error_subset": clean_error, "errors": errors, "ce": result["ce"], "mce": result["mce"],
            "relative_mce": result["relative_mce"]}


def run_cell(dataset: str, data_dir: str, variant: str, seed: int, sets) -> dict:
    model_dir = str(OUT / "runs" / dataset / variant / f"seed{seed}")
    config = common.small_resnet_config(dataset, data_dir, model_dir, seed, assembled=variant == "assembled")

    def compute():
        metrics = common.train(config)
        return {"dataset": dataset, "variant": variant, "seed": seed, "test": metrics,
                "robustness": robustness(model_dir, sets), "model_dir": model_dir,
                "settings": common.settings_dict(config)}
    return common.cached(OUT / dataset / variant / f"seed{seed}.json", compute)


def main() -> None:
    for dataset in common.DATASETS:
        data_dir = common.ensure_dataset(dataset)
        sets = corrupted_sets(dataset, data_dir)
        for seed in common.SEEDS:
            for variant in VARIANTS:
                result = run_cell(dataset, data_dir, variant, seed, sets)
                print(f"[a] {dataset} {variant} seed{seed}: top1={result['test']['top1']:.4f} "
                      f"mCE={result['robustness']['mce']:.1f} ({result['seconds']:.0f}s)", flush=True)


if __name__ == "__main__":
    main()

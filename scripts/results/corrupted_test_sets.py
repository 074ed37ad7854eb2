"""(a)'s corrupted test sets and their scoring: every test image under the 15 common corruptions
at severities 1-5, computed once per dataset and image size (they do not depend on the model),
stored as uint8 arrays under RUNS_DIR, and a model_dir's top-1 error on each, with CE / mCE."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import common

SEVERITIES = (1, 2, 3, 4, 5)


def clean_test_set(data_dir: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Every test image, eval-preprocessed to `size` px (uint8 RGB), and its label."""
    import tensorflow as tf

    from assembled_cnn.datasets import schema
    from assembled_cnn.preprocessing import get_preset, preprocess_image

    preset = get_preset("cifar", train_size=size, eval_size=size, normalization="none")
    files = sorted(tf.io.gfile.glob(f"{data_dir}/validation-*"))
    images, labels = [], []
    for record in tf.data.TFRecordDataset(files).as_numpy_iterator():
        parsed = schema.parse_example(record)
        images.append(np.clip(np.round(preprocess_image(parsed["image_bytes"], False, preset).numpy()), 0, 255))
        labels.append(int(parsed["label"]))
    return np.stack(images).astype(np.uint8), np.asarray(labels)


def corrupted_sets(dataset: str, data_dir: str, size: int):
    """(clean images, labels, {corruption: path of its [5, N, H, W, 3] uint8 array}); each array
    is computed once (it does not depend on the model) and stored under RUNS_DIR."""
    import tensorflow as tf

    from assembled_cnn.robustness.corruptions import corrupt, get_corruption_names

    folder = common.RUNS_DIR / "corrupted" / f"{dataset}_px{size}"
    folder.mkdir(parents=True, exist_ok=True)
    clean_path, labels_path = folder / "clean.npy", folder / "labels.npy"
    if not labels_path.is_file():
        clean, labels = clean_test_set(data_dir, size)
        _save_atomic(clean_path, clean)
        _save_atomic(labels_path, labels)
    clean, labels = np.load(clean_path), np.load(labels_path)
    paths = {}
    for name in get_corruption_names("common"):
        path = folder / f"{name}.npy"
        if not path.is_file():
            started = time.perf_counter()
            stack = [np.concatenate([corrupt(tf.constant(clean[i:i + 1000]), name, s, seed=0, index=i).numpy()
                                     for i in range(0, len(clean), 1000)]) for s in SEVERITIES]
            _save_atomic(path, np.stack(stack).astype(np.uint8))
            print(f"[a] corrupted {dataset} {name} in {time.perf_counter() - started:.0f} s", flush=True)
        paths[name] = path
    return clean, labels, paths


def _save_atomic(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, array)
    tmp.replace(path)


def robustness(model_dir: str, clean: np.ndarray, labels: np.ndarray, paths: dict) -> dict:
    """Top-1 error per corruption and severity, CE / mCE / relative mCE (in %)."""
    import tensorflow as tf

    from assembled_cnn.robustness.eval_robustness import load_model_dir
    from assembled_cnn.robustness.mce import compute_mce

    predictor = load_model_dir(model_dir)

    def error(images: np.ndarray) -> float:
        predicted = np.concatenate([tf.argmax(predictor.pixels(tf.constant(images[i:i + 500])), -1).numpy()
                                    for i in range(0, len(images), 500)])
        return float(np.mean(predicted != labels))
    errors = {}
    for name, path in paths.items():
        stack = np.load(path, mmap_mode="r")
        errors[name] = [error(np.asarray(stack[s - 1])) for s in SEVERITIES]
    clean_error = error(clean)
    result = compute_mce(errors, clean_error=clean_error)
    return {"clean_error": clean_error, "errors": errors, "ce": result["ce"], "mce": result["mce"],
            "relative_mce": result["relative_mce"],
            "mean_corruption_error": float(np.mean([np.mean(v) for v in errors.values()]))}

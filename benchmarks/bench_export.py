"""Latency and throughput of each export format on this CPU, in one run.

    python benchmarks/bench_export.py [--models resnet50,assemble_resnet50,mobilenet_v1,se_mobilenet_v1]
        [--size 224] [--batch 8] [--rounds 5] [--json out.json]

For every model (random weights, 1000 classes, BN folded as exported) it writes the SavedModel,
TFLite float32, TFLite int8 (calibrated on --calibration random images: fine for speed, not for
accuracy) and ONNX, then times batch-1 latency (median ms) and --batch throughput (images/s)
of: the SavedModel (TF, all threads), TFLite float / int8 with the LiteRT interpreter (XNNPACK)
on 1 thread and on all threads, and ONNX Runtime on 1 thread and all threads. Runners of one
model are interleaved round by round (A B C … A B C …) and medians reported, so that a busy
machine affects them alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from assembled_cnn.deploy import convert, data, runtime  # noqa: E402
from assembled_cnn.export import export_saved_model  # noqa: E402
from assembled_cnn.nets import build_model, fold_batch_norm, list_models  # noqa: E402
from assembled_cnn.preprocessing import get_preset  # noqa: E402
from assembled_cnn.utils.machine import cpu_name  # noqa: E402

DEFAULT_MODELS = "resnet50,assemble_resnet50,mobilenet_v1,se_mobilenet_v1"


def write_exports(name: str, size: int, folder: str, calibration: int) -> dict[str, str]:
    """Paths of the exports written; a format that fails is reported in one line and left out."""
    model = build_model(name, num_classes=1000, input_size=size)
    served = fold_batch_norm(model)
    shape = (size, size, 3)
    images = np.random.default_rng(0).normal(0, 60, (calibration, *shape)).astype(np.float32)
    saved_dir = os.path.join(folder, "saved_model")
    writers = {
        "saved_model": lambda path: export_saved_model(model, path, get_preset(f"imagenet_{size}")),
        "tflite": lambda path: _write(path, convert.to_tflite(served, shape)),
        "tflite_int8": lambda path: _write(path, convert.to_tflite(
            served, shape, data.representative_dataset(images))),
        "onnx": lambda path: _write(path, convert.to_onnx(served, shape))}
    paths = {}
    for kind, write in writers.items():
        path = saved_dir if kind == "saved_model" else os.path.join(
            folder, kind + (".onnx" if kind == "onnx" else ".tflite"))
        try:
            write(path)
        except (ValueError, OSError, tf.errors.OpError) as error:
            print(f"# {name}: no {kind}: {str(error).splitlines()[0]}", flush=True)
            continue
        paths[kind] = path
    return paths


def _write(path: str, blob: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(blob)


def runners(paths: dict[str, str], threads: int) -> dict[str, runtime.ExportRunner]:
    result = {}
    if "saved_model" in paths:
        result["saved_model (TF)"] = runtime.load_export(paths["saved_model"])
    for kind, label in (("tflite", "TFLite fp32"), ("tflite_int8", "TFLite int8"), ("onnx", "ONNX Runtime")):
        if kind in paths:
            result[f"{label}, 1 thread"] = runtime.load_export(paths[kind], num_threads=1)
            result[f"{label}, {threads} threads"] = runtime.load_export(paths[kind], num_threads=threads)
    return result


def time_once(runner: runtime.ExportRunner, images: np.ndarray, repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        runner.logits(images)
    return (time.perf_counter() - start) / repeats


def measure(named: dict[str, runtime.ExportRunner], size: int, batch: int, rounds: int,
            repeats: int) -> dict[str, dict]:
    one = np.random.default_rng(1).normal(0, 60, (1, size, size, 3)).astype(np.float32)
    many = np.random.default_rng(2).normal(0, 60, (batch, size, size, 3)).astype(np.float32)
    samples = {label: ([], []) for label in named}
    for runner in named.values():  # warm-up: allocation, XNNPACK packing, first TF trace
        runner.logits(one), runner.logits(many), runner.logits(one)
    for _ in range(rounds):
        for label, runner in named.items():
            samples[label][0].append(time_once(runner, one, repeats))
            samples[label][1].append(time_once(runner, many, max(1, repeats // 2)))
    return {label: {"latency_ms": 1000 * statistics.median(lat),
                    "throughput_img_s": batch / statistics.median(thr)}
            for label, (lat, thr) in samples.items()}


def machine() -> str:
    cpu = cpu_name(platform.processor() or platform.machine())
    return f"{cpu}, {os.cpu_count()} cores; TF {tf.__version__}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=4, help="calls per timing sample")
    parser.add_argument("--calibration", type=int, default=8)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    names = [n for n in args.models.split(",") if n]
    unknown = sorted(set(names) - set(list_models()))
    if unknown:
        parser.error(f"not in the registry: {', '.join(unknown)}")
    threads, results = os.cpu_count() or 1, {}
    print(f"# {machine()}; {args.size} px, latency at batch 1, throughput at batch {args.batch}")
    for name in names:
        with tempfile.TemporaryDirectory() as folder:
            paths = write_exports(name, args.size, folder, args.calibration)
            results[name] = measure(runners(paths, threads), args.size, args.batch, args.rounds, args.repeats)
        print(f"\n| {name} | latency ms (batch 1) | images/s (batch {args.batch}) |\n|---|---:|---:|")
        for label, figures in results[name].items():
            print(f"| {label} | {figures['latency_ms']:.2f} | {figures['throughput_img_s']:.1f} |", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"machine": machine(), "args": vars(args), "results": results}, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

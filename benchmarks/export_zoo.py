"""Every preset of the zoo through every converted format, at tiny width: does it export, and does
the float export agree with Keras?

    python benchmarks/export_zoo.py [--models a,b] [--size 32] [--json out.json]

Each preset is built with random weights (ResNets num_filters=8, MobileNets / EfficientNet-Lite
width 0.25, 10 classes, 32 px), BN folded, written as TFLite float32, TFLite int8 (calibrated on
8 random images: conversion only, agreement is meaningless without trained weights) and ONNX.
Float exports are compared with the Keras model on 8 random images (max |Δlogit| relative).
A format that cannot be written gets its one-line reason in the table.

The test suite (tests/deploy/test_zoo_exports.py) exports every layer type of these presets,
trained briefly on real Fashion-MNIST so that int8 agreement means something, but not every
preset at its own depth: the deep ones take minutes each here, so they are this script's job.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from assembled_cnn.deploy import check, convert, data, runtime  # noqa: E402
from assembled_cnn.nets import build_model, fold_batch_norm, list_models  # noqa: E402


def tiny(name: str, size: int):
    width = dict(num_filters=8) if "resnet" in name else dict(width_multiplier=0.25)
    return build_model(name, num_classes=10, input_size=size, **width)


def one_format(model, served, fmt: str, images: np.ndarray, folder: str) -> str:
    shape = tuple(images.shape[1:])
    try:
        if fmt == "onnx":
            blob = convert.to_onnx(served, shape)
        else:
            calibration = data.representative_dataset(images) if fmt == "tflite_int8" else None
            blob = convert.to_tflite(served, shape, calibration)
    except convert.ConversionError as error:
        return f"fails: {error}"
    path = os.path.join(folder, f"{model.name}.{'onnx' if fmt == 'onnx' else 'tflite'}")
    with open(path, "wb") as handle:
        handle.write(blob)
    if fmt == "tflite_int8":
        return f"ok ({len(blob) / 1024:.0f} KiB)"
    result = check.compare(model(images, training=False).numpy(), runtime.load_export(path).logits(images),
                           None, quantized=False)
    return f"{'ok' if result['passed'] else 'MISMATCH'} ({result['max_rel_diff_logits']:.1e})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(list_models()))
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    images = np.random.default_rng(0).normal(0, 60, (8, args.size, args.size, 3)).astype(np.float32)
    formats, table = ("tflite", "tflite_int8", "onnx"), {}
    print("| preset | " + " | ".join(formats) + " |\n|---|" + "---|" * len(formats))
    for name in [n for n in args.models.split(",") if n]:
        model = tiny(name, args.size)
        served = fold_batch_norm(model)
        with tempfile.TemporaryDirectory() as folder:
            table[name] = {fmt: one_format(model, served, fmt, images, folder) for fmt in formats}
        print(f"| {name} | " + " | ".join(table[name][f] for f in formats) + " |", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(table, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

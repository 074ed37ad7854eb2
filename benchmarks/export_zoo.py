"""Every preset of the zoo through every export format, at tiny width: does it export, and does
the export agree with Keras? Prints the table of docs/deployment.md ("Every preset").

    python benchmarks/export_zoo.py [--models a,b] [--size 32] [--workers 2] [--json out.json]

Each preset at its own depth (ResNets num_filters=8, MobileNets / EfficientNet-Lite width 0.25,
10 classes, 32 px, random weights) goes through `assembled_cnn.deploy.zoo`: SavedModel, TFLite
float32, TFLite int8 (calibrated on the same 8 images: random weights, so only "it runs, finite")
and ONNX, each loaded back and compared with the Keras model (max |Δlogit| relative).
A format that cannot be written gets its one-line reason in the table. The test suite asserts
the same on real images (tests/deploy/test_every_preset_exports.py); this script adds the
per-preset seconds (two presets convert at a time with --workers 2, so they overlap).
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from assembled_cnn.deploy import zoo  # noqa: E402
from assembled_cnn.nets import list_models  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(list_models()))
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    images = np.random.default_rng(0).normal(0, 60, (8, args.size, args.size, 3)).astype(np.float32)
    formats = zoo.FORMATS
    print("| preset | " + " | ".join(formats) + " | seconds |\n|---|" + "---|" * (len(formats) + 1))
    table = zoo.export_presets([n for n in args.models.split(",") if n], images, formats, args.workers)
    for name in table:
        seconds = sum(r["seconds"] for r in table[name].values())
        print(f"| {name} | " + " | ".join(zoo.cell(table[name][f]) for f in formats) + f" | {seconds:.0f} |",
              flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(table, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

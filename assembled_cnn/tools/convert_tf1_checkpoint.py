"""Convert a checkpoint of the original TF1 Assemble-ResNet into a TF2 model_dir.

    python -m assembled_cnn.tools.convert_tf1_checkpoint --tf1_checkpoint=ckpt_dir \
        --model_dir=runs/assemble_r50 --model=assemble_resnet50 --num_classes=1001

Architecture flags are the original's (`--resnet_version=2 --use_sk_block=true ...`) and
override the preset; they must match the checkpoint (the original's issue #4).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np

from assembled_cnn.model_dir import restore_model, save_model_checkpoint, save_model_config
from assembled_cnn.nets import ModelConfig, build_model, model_config
from assembled_cnn.nets.tf1_checkpoint import Tf1CheckpointError, load_tf1_checkpoint
from assembled_cnn.utils.io import write_json_atomic

def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "y"):
        return True
    if lowered in ("0", "false", "no", "n"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """One optional --flag per ModelConfig field, typed like its default."""
    for field in dataclasses.fields(ModelConfig):
        default = field.default
        kind = _parse_bool if isinstance(default, bool) else (type(default) if default is not None else int)
        parser.add_argument(f"--{field.name}", type=kind, default=None, help=f"model flag (default {default!r})")


def model_config_from_args(args: argparse.Namespace, preset: str | None) -> ModelConfig:
    names = {f.name for f in dataclasses.fields(ModelConfig)}
    return model_config(preset, **{n: getattr(args, n) for n in names})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tf1_checkpoint", required=True, help="TF1 checkpoint prefix or directory")
    parser.add_argument("--model_dir", required=True, help="output model_dir")
    parser.add_argument("--model", default=None, help="preset name, e.g. assemble_resnet50")
    parser.add_argument("--skip_head", type=_parse_bool, default=False, help="keep a fresh classifier")
    add_model_arguments(parser)
    return parser


def convert(args: argparse.Namespace) -> dict:
    config = model_config_from_args(args, args.model)
    model = build_model(config=config)
    report = load_tf1_checkpoint(model, args.tf1_checkpoint, skip_head=args.skip_head)
    path = write_model_dir(args.model_dir, config, model)
    summary = {"tf1_checkpoint": args.tf1_checkpoint, "checkpoint": path, "assigned": len(report.assigned),
               "skipped": report.skipped, "ignored_bookkeeping": report.ignored_bookkeeping}
    write_json_atomic(f"{args.model_dir}/conversion_report.json", summary)
    print(report.summary())
    print(f"wrote {path} and {args.model_dir}/model_config.json")
    return summary


def write_model_dir(model_dir: str, config: ModelConfig, model) -> str:
    """model_config.json + checkpoint 0, verified by restoring it; returns the checkpoint path."""
    save_model_config(model_dir, config)
    path = save_model_checkpoint(model_dir, model, step=0)
    probe = np.random.default_rng(0).normal(0, 50, (1, 64, 64, 3)).astype("float32")
    reloaded = restore_model(model_dir)
    drift = float(np.abs(model(probe, training=False) - reloaded(probe, training=False)).max())
    if drift > 0:
        raise RuntimeError(f"the written checkpoint {path} does not reproduce the model (max diff {drift})")
    return path


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        convert(args)
    except Tf1CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

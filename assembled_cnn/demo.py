"""`make demo`: real data → TFRecords → a small assembled network → evaluation → export → report.

    python -m assembled_cnn.demo --output_dir runs/demo [--epochs 10]

Fetches Fashion-MNIST from its Debian package, converts it to TFRecords, trains a ResNet-18-sized
network with the assembled techniques (ResNet-D, anti-aliased downsampling, DropBlock, zero-γ,
label smoothing; Selective Kernel units are a --use_sk_block away, left off because their time buys
more as epochs within 10 minutes) on the CPU, evaluates it on the 10,000 test images, exports a
SavedModel, checks the export on a few test images and writes runs/demo/report.md with curves.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from dataclasses import dataclass, replace
from pathlib import Path

from assembled_cnn.config import DataConfig, ExperimentConfig, RunConfig, TrainConfig
from assembled_cnn.nets import model_config

DEMO_MODEL = dict(resnet_size=18, use_resnet_d=True, anti_alias_type="sconv",
                  anti_alias_filter_size=3, zero_gamma=True, bn_momentum=0.9)


@dataclass(frozen=True)
class DemoRecipe:
    """What `make demo` trains; benchmarks/bench_demo.py measures alternatives to each field."""
    epochs: float = 13.0          # without SK, 13 epochs fit where 8 with SK did, and measured more (v19, v22, v23)
    image_size: int = 56          # 28-px images upsampled: the ImageNet stem divides by 4
    stem_stride: int = 2          # 1: the first stem conv keeps the input resolution (for 28-32 px inputs)
    num_filters: int = 16
    batch_size: int = 256          # 1.18x the images/s of 128 on 2 cores (bench_demo v15)
    base_learning_rate: float = 0.4  # linear scaling of 0.2 at batch 128, which results (a) chose on validation
    weight_decay: float = 1e-4
    lr_warmup_epochs: float = 0.5
    mixup_type: int = 0           # mixup needs long schedules: at 8 epochs it cost 0.4 points (bench_demo)
    mixup_alpha: float = 0.2
    label_smoothing: float = 0.1
    use_dropblock: bool = True
    use_sk_block: bool = False    # Selective Kernel units: a third of the step's time here, worth less than 4 epochs
    ema_decay: float = 0.0
    eval_flip: bool = True        # flip test-time augmentation in every evaluation: +0.24 points
    eval_shift: int = 2           # and its four 2-px shifts: 6 views, +0.24 points for 0.4 min (bench_demo v20)
    progressive_sizes: str = ""   # e.g. "40": train at 40 px for the first `progressive_until` of the steps
    progressive_until: float = 0.5
    evals: int = 1                # evaluations of the test split (the report's curve): each classifies 6 views
                                  # of 10,000 images (~16 s), time better spent training (bench_demo v23)
    seed: int = 0


def demo_config(data_dir: str, model_dir: str, recipe: DemoRecipe = DemoRecipe()) -> ExperimentConfig:
    """The demo's experiment: 7x7 maps after the stem cost ~2 accuracy points at only half the
    speed of 14x14 ones, hence the upsampling to 56 px."""
    r = recipe
    return ExperimentConfig(
        model=model_config("resnet18", num_classes=10, num_filters=r.num_filters, use_dropblock=r.use_dropblock,
                           use_sk_block=r.use_sk_block, stem_stride=r.stem_stride, **DEMO_MODEL),
        data=DataConfig(dataset_name="fashion_mnist", data_dir=data_dir, preprocessing_type="cifar",
                        train_size=r.image_size, test_size=r.image_size, mixup_type=r.mixup_type,
                        mixup_alpha=r.mixup_alpha, label_smoothing=r.label_smoothing, seed=r.seed,
                        progressive_sizes=[int(v) for v in r.progressive_sizes.split(",") if v],
                        progressive_until=r.progressive_until),
        train=TrainConfig(batch_size=r.batch_size, train_epochs=r.epochs, base_learning_rate=r.base_learning_rate,
                          learning_rate_decay_type="cosine", lr_warmup_epochs=r.lr_warmup_epochs,
                          weight_decay=r.weight_decay, dropblock_kp=[1.0, 0.9], ema_decay=r.ema_decay),
        run=RunConfig(model_dir=model_dir, mode="train_and_eval", epochs_between_evals=r.epochs / r.evals,
                      save_checkpoints_epochs=1.0, keep_checkpoint_max=3, num_best_ckpt_to_keep=1,
                      log_every_n_steps=100, eval_flip=r.eval_flip,
                      eval_shift=r.eval_shift, export_dir=os.path.join(model_dir, "export")))


def fetch_data(data_dir: Path) -> None:
    if (data_dir / "dataset_info.json").exists():
        print(f"using the TFRecords in {data_dir}")
        return
    from assembled_cnn.datasets.fetch import fetch

    fetch("fashion_mnist", data_dir, num_workers=2)


def check_export(export_dir: str, data_dir: str, count: int = 8) -> list[dict]:
    """Classify a few test records through the exported bytes signature."""
    import tensorflow as tf

    from assembled_cnn.datasets import schema

    info = json.loads((Path(data_dir) / "dataset_info.json").read_text())
    names = info.get("label_map") or {}
    names = {int(k): v for k, v in names.items()} if isinstance(names, dict) else dict(enumerate(names))
    files = sorted(tf.io.gfile.glob(os.path.join(data_dir, "validation-*")))
    records = [schema.parse_example(r) for r in tf.data.TFRecordDataset(files[:1]).take(count)]
    serving = tf.saved_model.load(export_dir).signatures["serving_bytes"]
    outputs = serving(tf.stack([r["image_bytes"] for r in records]))
    rows = []
    for i, record in enumerate(records):
        label, predicted = int(record["label"]), int(outputs["classes"][i])
        rows.append({"image": i, "label": names.get(label, label), "predicted": names.get(predicted, predicted),
                     "probability": float(outputs["probabilities"][i][predicted])})
    return rows


def _views_note(run) -> str:
    """How the report's accuracy was measured, when it was not one view per image."""
    from assembled_cnn.train.task import eval_view_count

    views = (["its mirror image"] if run.eval_flip else []) + (
        [f"its four {run.eval_shift}-px shifts"] if run.eval_shift else [])
    if not views:
        return ""
    count = eval_view_count(run)
    return (f", each classified with {' and '.join(views)} (test-time augmentation: the mean of the "
            f"{count} softmaxes; the exported SavedModel classifies one view)")


def write_report(output_dir: Path, config: ExperimentConfig, results: dict, samples: list[dict],
                 seconds: dict) -> Path:
    from assembled_cnn.report import Section, markdown_table, plot_curves, write_markdown

    model_dir = config.run.model_dir
    plot_curves(os.path.join(model_dir, "metrics.jsonl"), str(output_dir / "curves.png"),
                keys=("loss", "learning_rate", "top1"))
    metric_rows = [{"metric": k, "value": v} for k, v in results.items() if isinstance(v, float)]
    timing = [{"stage": k, "seconds": v} for k, v in seconds.items()]
    sections = [
        Section("Result", f"Fashion-MNIST test accuracy (top-1): **{results['top1']:.2%}** on "
                          f"{results['num_examples']} images{_views_note(config.run)}.\n\n"
                          + markdown_table(metric_rows, float_format=".4f")),
        Section("Curves", "Training loss and learning rate per step; test top-1 at each evaluation (by default one, at the end).", image="curves.png"),
        Section("Model", "```json\n" + json.dumps(config.model.to_dict(), indent=1, sort_keys=True) + "\n```"),
        Section("Training", "```json\n" + json.dumps(config.train.__dict__ | config.data.__dict__, indent=1,
                                                    sort_keys=True, default=str) + "\n```"),
        Section("Exported SavedModel on test images", markdown_table(samples, float_format=".3f")),
        Section("Time", f"Machine: {platform.machine()}, {os.cpu_count()} CPUs.\n\n"
                        + markdown_table(timing, float_format=".0f")),
    ]
    path = output_dir / "report.md"
    write_markdown(str(path), sections, title="assembled-cnn demo")
    return path


def run_demo(output_dir: Path, data_dir: str, recipe: DemoRecipe) -> dict:
    """The whole demo: data, training with evaluations, export, export check, report."""
    output_dir.mkdir(parents=True, exist_ok=True)
    seconds, start = {}, time.time()
    fetch_data(Path(data_dir))
    seconds["fetch + TFRecords"] = time.time() - start
    from assembled_cnn.train.runner import run

    config = demo_config(data_dir, str(output_dir / "model"), recipe)
    start = time.time()
    results = run(config)
    seconds["train + eval + export"] = time.time() - start
    samples = check_export(config.run.export_dir, data_dir)
    results["report"] = str(write_report(output_dir, config, results, samples, seconds))
    return results


def parse_flags(argv=None) -> tuple[argparse.Namespace, DemoRecipe]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", default="runs/demo")
    parser.add_argument("--data_dir", default="data/fashion_mnist")
    parser.add_argument("--epochs", type=float, default=DemoRecipe.epochs)
    parser.add_argument("--image_size", type=int, default=DemoRecipe.image_size)
    parser.add_argument("--use_sk_block", action="store_true",
                        help="add Selective Kernel units (about 1.4x the training time per epoch here)")
    args = parser.parse_args(argv)
    return args, replace(DemoRecipe(), epochs=args.epochs, image_size=args.image_size,
                         use_sk_block=args.use_sk_block)


def main(argv=None) -> int:
    args, recipe = parse_flags(argv)
    results = run_demo(Path(args.output_dir), args.data_dir, recipe)
    print(f"test top-1 {results['top1']:.2%}; report: {results['report']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

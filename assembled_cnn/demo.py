"""`make demo`: real data → TFRecords → a small assembled network → evaluation → export → report.

    python -m assembled_cnn.demo --output_dir runs/demo [--epochs 10]

Fetches Fashion-MNIST from its Debian package, converts it to TFRecords, trains a ResNet-18-sized
network with the assembled techniques (ResNet-D, Selective Kernel, anti-aliased downsampling,
DropBlock, mixup, label smoothing) on the CPU, evaluates it on the 10,000 test images, exports a
SavedModel, checks the export on a few test images and writes runs/demo/report.md with curves.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from assembled_cnn.config import DataConfig, ExperimentConfig, RunConfig, TrainConfig
from assembled_cnn.nets import model_config

DEMO_MODEL = dict(resnet_size=18, num_filters=16, use_resnet_d=True, use_sk_block=True, anti_alias_type="sconv",
                  anti_alias_filter_size=3, use_dropblock=True, zero_gamma=True, bn_momentum=0.9)


def demo_config(data_dir: str, model_dir: str, epochs: float, batch_size: int = 128,
                image_size: int = 56) -> ExperimentConfig:
    """28-px images are upsampled to `image_size`: the ImageNet stem divides by 4, and 7x7 maps
    after it cost ~2 accuracy points at only half the speed of 14x14 ones."""
    return ExperimentConfig(
        model=model_config("resnet18", num_classes=10, **DEMO_MODEL),
        data=DataConfig(dataset_name="fashion_mnist", data_dir=data_dir, preprocessing_type="cifar",
                        train_size=image_size, test_size=image_size, mixup_type=1, mixup_alpha=0.2, label_smoothing=0.1),
        train=TrainConfig(batch_size=batch_size, train_epochs=epochs, base_learning_rate=0.1,
                          learning_rate_decay_type="cosine", lr_warmup_epochs=0.5, weight_decay=1e-4,
                          dropblock_kp=[1.0, 0.9]),
        run=RunConfig(model_dir=model_dir, mode="train_and_eval", epochs_between_evals=1.0,
                      save_checkpoints_epochs=1.0, keep_checkpoint_max=3, num_best_ckpt_to_keep=1,
                      log_every_n_steps=100, export_dir=os.path.join(model_dir, "export")))


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
                          f"{results['num_examples']} images.\n\n" + markdown_table(metric_rows, float_format=".4f")),
        Section("Curves", "Training loss, learning rate and test top-1 per step.", image="curves.png"),
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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", default="runs/demo")
    parser.add_argument("--data_dir", default="data/fashion_mnist")
    parser.add_argument("--epochs", type=float, default=8.0)
    parser.add_argument("--image_size", type=int, default=56)
    args = parser.parse_args(argv)
    output_dir = Path(args.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    seconds, start = {}, time.time()
    fetch_data(Path(args.data_dir))
    seconds["fetch + TFRecords"] = time.time() - start
    from assembled_cnn.train.runner import run

    config = demo_config(args.data_dir, str(output_dir / "model"), args.epochs, image_size=args.image_size)
    start = time.time()
    results = run(config)
    seconds["train + eval + export"] = time.time() - start
    samples = check_export(config.run.export_dir, args.data_dir)
    report = write_report(output_dir, config, results, samples, seconds)
    print(f"test top-1 {results['top1']:.2%}; report: {report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

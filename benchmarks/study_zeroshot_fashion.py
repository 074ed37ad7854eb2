"""Zero-shot retrieval on real Fashion-MNIST split by class: softmax vs ArcFace + GeM + embedding.

    python benchmarks/study_zeroshot_fashion.py --output docs/results/zeroshot_fashion.json \
        [--seeds 0,1,2] [--epochs 2] [--work_dir runs/zeroshot_fashion]

Train on the training images of classes 0-4 (T-shirt, trouser, pullover, dress, coat), then
retrieve among the 5,000 test images of classes 5-9 (sandal, shirt, sneaker, bag, ankle boot),
classes the network never saw: Recall@1/5 (cosine) of the `features` embedding, every test image
querying the others. Same small ResNet-18 (16 filters, 32 px, `cifar` preprocessing), schedule
and seeds for both heads; only the head differs:

* softmax: GAP -> dense logits, softmax cross-entropy;
* arcface: GeM -> 64-d embedding (1x1 conv + BN) -> cosine logits (s=30), margin m=0.3;
* ablations (`--heads`): softmax on GeM + embedding, ArcFace on GAP features, and the cosine
  head of `arcface` without margin (m=0).

Finished (head, seed) runs already in `--output` are kept and skipped (resumable).

The raw Fashion-MNIST comes from the cache of `python -m assembled_cnn.datasets.fetch`
(Debian package). Prints and writes the mean and sample std (ddof 1) per head over the seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from assembled_cnn.config import DataConfig, ExperimentConfig, RunConfig, TrainConfig  # noqa: E402
from assembled_cnn.datasets.build import write_records  # noqa: E402
from assembled_cnn.datasets.builders.base import TRAIN, VALIDATION, BuildConfig, RawDataset  # noqa: E402
from assembled_cnn.datasets.builders.idx import read_fashion_mnist  # noqa: E402
from assembled_cnn.datasets.fetch import cache_dir, fetch_fashion_mnist  # noqa: E402
from assembled_cnn.nets import model_config  # noqa: E402
from assembled_cnn.train.runner import Runner  # noqa: E402

SEEN = 5  # classes 0..4 train, 5..9 are retrieved
ARC = dict(logit_type="cosine", cosine_scale=30.0)
GEM_EMBEDDING = dict(pool_type="gem", embedding_size=64)
HEADS = {  # name: (model overrides, train overrides)
    "softmax": ({}, {}),
    "arcface": ({**GEM_EMBEDDING, **ARC}, dict(arc_margin=0.3)),
    # ablations: which part of the ArcFace setting moves the recall
    "softmax_gem_embedding": (GEM_EMBEDDING, {}),
    "arcface_gap": (ARC, dict(arc_margin=0.3)),
    "cosine_m0_gem_embedding": ({**GEM_EMBEDDING, **ARC}, dict(arc_margin=0.0)),
}


def build_class_split(output: Path) -> Path:
    if (output / "dataset_info.json").exists():
        return output
    raw_dir = fetch_fashion_mnist(cache_dir())
    full = read_fashion_mnist(raw_dir, BuildConfig())
    raw = RawDataset({TRAIN: [i for i in full.splits[TRAIN] if i.label < SEEN],
                      VALIDATION: [i for i in full.splits[VALIDATION] if i.label >= SEEN]},
                     full.class_names, storage=full.storage)
    write_records("fashion_mnist_zeroshot", raw, output, raw_dir, num_shards=4, num_workers=2)
    return output


def config(head: str, seed: int, data_dir: Path, model_dir: Path, epochs: float) -> ExperimentConfig:
    model_extra, train_extra = HEADS[head]
    return ExperimentConfig(
        model=model_config("resnet18", num_classes=10, num_filters=16, bn_momentum=0.9, **model_extra),
        data=DataConfig(dataset_name="fashion_mnist_zeroshot", data_dir=str(data_dir), preprocessing_type="cifar",
                        train_size=32, test_size=32, deterministic=True, seed=seed),
        train=TrainConfig(batch_size=128, train_epochs=epochs, base_learning_rate=0.1, learning_rate_decay_type="cosine",
                          lr_warmup_epochs=0.5, weight_decay=1e-4, **train_extra),
        run=RunConfig(model_dir=str(model_dir), mode="train_and_eval", epochs_between_evals=epochs,
                      keep_checkpoint_max=1, num_best_ckpt_to_keep=0, log_every_n_steps=100,
                      zeroshot_eval=True, recall_at_k=[1, 5], eval_similarity="cosine"))


def run_one(head: str, seed: int, data_dir: Path, work_dir: Path, epochs: float) -> dict:
    model_dir = work_dir / f"{head}_seed{seed}"
    started = time.perf_counter()
    runner = Runner(config(head, seed, data_dir, model_dir, epochs))
    try:
        results = runner.train(evaluate=True)
    finally:
        runner.close()
    return {"head": head, "seed": seed, "seconds": time.perf_counter() - started,
            **{k: v for k, v in results.items() if k.startswith("recall_at_") or k == "num_queries"}}


def _sample_std(values) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def summarize(rows: list[dict]) -> dict:
    out = {}
    for head in HEADS:
        mine = [r for r in rows if r["head"] == head]
        if mine:
            out[head] = {f"{k}_{stat}": float(fn([r[k] for r in mine])) for k in ("recall_at_1", "recall_at_5")
                         for stat, fn in (("mean", np.mean), ("std", _sample_std))}
            out[head]["runs"] = len(mine)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work_dir", default="runs/zeroshot_fashion")
    parser.add_argument("--output", default="docs/results/zeroshot_fashion.json")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--heads", default="softmax,arcface", help=f"any of {', '.join(HEADS)}")
    args = parser.parse_args()
    work = Path(args.work_dir)
    data_dir = build_class_split(work / "data")
    output = Path(args.output)
    rows = json.loads(output.read_text())["runs"] if output.is_file() else []
    done = {(r["head"], r["seed"]) for r in rows}
    for seed in [int(s) for s in args.seeds.split(",")]:
        for head in args.heads.split(","):  # interleaved: machine load hits every head alike
            if (head, seed) in done:
                continue
            rows.append(run_one(head, seed, data_dir, work, args.epochs))
            print(json.dumps(rows[-1]), flush=True)
            payload = {"epochs": args.epochs, "runs": rows, "summary": summarize(rows)}
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(json.dumps(payload, indent=2) + "\n")
    for head, stats in summarize(rows).items():
        print(f"{head:8s} R@1 {100 * stats['recall_at_1_mean']:.2f} ± {100 * stats['recall_at_1_std']:.2f}  "
              f"R@5 {100 * stats['recall_at_5_mean']:.2f} ± {100 * stats['recall_at_5_std']:.2f}  "
              f"({stats['runs']} seeds)")


if __name__ == "__main__":
    main()

"""Model throughput against keras.applications.ResNet50, measured in one run.

    python benchmarks/bench_models.py [--quick] [--configs 224x16,64x64] [--json out.json]

Prints images/s for train steps (SGD momentum, forward + backward + update) and inference,
for our resnet50 and assemble_resnet50 and for keras.applications.ResNet50(weights=None), in
float32, with XLA (`jit_compile`) and with the mixed_bfloat16 policy, and the ratios the
model-zoo issue asks for. Our models' inference is timed twice: as built (what the runner's
evaluations run) and BN-folded (`fold_batch_norm`, what export and predict serve). Measurements of the compared models are interleaved (A B A B ...)
and the median is reported, so that a busy machine affects both sides alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from assembled_cnn.nets import build_model, fold_batch_norm  # noqa: E402


def make_model(name: str, size: int):
    if name == "keras_resnet50":
        return keras.applications.ResNet50(weights=None, input_shape=(size, size, 3), classes=1000)
    return build_model(name, num_classes=1000, input_size=size)


def infer_function(model, jit: bool):
    @tf.function(jit_compile=jit)
    def infer_step(x):
        return model(x, training=False)

    return infer_step


def step_functions(model, jit: bool):
    optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
    optimizer.build(model.trainable_variables)

    @tf.function(jit_compile=jit)
    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits = tf.cast(model(x, training=True), tf.float32)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    return train_step, infer_function(model, jit)


class Contender:
    """One model in one numeric mode, with warmed-up step functions."""

    def __init__(self, name: str, size: int, batch: int, mode: str):
        self.label = f"{name}[{mode}]"
        policy = "mixed_bfloat16" if mode == "bf16" else "float32"
        keras.config.set_dtype_policy(policy)
        try:
            self.model = make_model(name, size)
        finally:
            keras.config.set_dtype_policy("float32")
        self.train_step, infer_step = step_functions(self.model, jit=(mode == "xla"))
        self.infer_steps = {self.label: infer_step}
        if name != "keras_resnet50":
            folded = fold_batch_norm(self.model)
            self.infer_steps[f"{name}[{mode} folded]"] = infer_function(folded, jit=(mode == "xla"))
        rng = np.random.default_rng(0)
        self.x = tf.constant(rng.normal(0, 60, (batch, size, size, 3)).astype("float32"))
        self.y = tf.constant(rng.integers(0, 1000, batch).astype("int32"))
        self.batch = batch
        self.train_step(self.x, self.y)
        for infer_step in self.infer_steps.values():
            infer_step(self.x).numpy()

    def time_train(self, steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            loss = self.train_step(self.x, self.y)
        loss.numpy()
        return steps * self.batch / (time.perf_counter() - start)

    def time_infer(self, steps: int, label: str) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            out = self.infer_steps[label](self.x)
        out.numpy()
        return steps * self.batch / (time.perf_counter() - start)


def measure(contenders, kind: str, steps: int, rounds: int) -> dict[str, float]:
    samples = {}
    for _ in range(rounds):
        for c in contenders:
            if kind == "train":
                samples.setdefault(c.label, []).append(c.time_train(steps))
                continue
            for label in c.infer_steps:
                samples.setdefault(label, []).append(c.time_infer(steps, label))
    return {label: statistics.median(values) for label, values in samples.items()}


def run_config(size: int, batch: int, modes, rounds: int, steps: dict) -> dict:
    contenders = [Contender("keras_resnet50", size, batch, "fp32")]
    for mode in modes:
        contenders += [Contender("resnet50", size, batch, mode), Contender("assemble_resnet50", size, batch, mode)]
    results = {}
    for kind in ("train", "infer"):
        results[kind] = measure(contenders, kind, steps[kind], rounds)
    return results


def ratios(results: dict) -> dict:
    out = {}
    for kind, table in results.items():
        base = table["keras_resnet50[fp32]"]
        ours_fp32 = table["resnet50[fp32]"]
        best_label = max((l for l in table if l.startswith("resnet50[")), key=table.get)
        out[kind] = {"resnet50_fp32_vs_keras": ours_fp32 / base,
                     f"best_resnet50 ({best_label}) vs keras": table[best_label] / base,
                     "assemble_vs_resnet50_fp32": table["assemble_resnet50[fp32]"] / ours_fp32}
        if "resnet50[fp32 folded]" in table:
            folded = table["resnet50[fp32 folded]"]
            out[kind]["resnet50_fp32_folded_vs_keras"] = folded / base
            out[kind]["assemble_vs_resnet50_fp32_folded"] = table["assemble_resnet50[fp32 folded]"] / folded
    return out


def print_report(size, batch, results, rat):
    print(f"\n## {size}px, batch {batch}: images/s (median)")
    print("| model | train | inference |\n|---|---|---|")
    for label in results["infer"]:
        train = results["train"].get(label)
        print(f"| {label} | {'-' if train is None else f'{train:.1f}'} | {results['infer'][label]:.1f} |")
    for kind, table in rat.items():
        print(f"{kind}: " + ", ".join(f"{k} = {v:.2f}x" for k, v in table.items()))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", default="224x16,64x64", help="comma list of SIZExBATCH")
    parser.add_argument("--modes", default="fp32,xla,bf16", help="our numeric modes to compare")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    parser.add_argument("--json", default=None, help="write the figures to this JSON file")
    args = parser.parse_args()
    steps = {"train": 1 if args.quick else 3, "infer": 2 if args.quick else 6}
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"TF {tf.__version__}, Keras {keras.__version__}")
    report = {}
    for spec in args.configs.split(","):
        size, batch = (int(v) for v in spec.split("x"))
        results = run_config(size, batch, args.modes.split(","), args.rounds, steps)
        rat = ratios(results)
        print_report(size, batch, results, rat)
        report[spec] = {"images_per_s": results, "ratios": rat}
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main()

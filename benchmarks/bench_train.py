"""Runner overhead: steps/s of `Runner.train` against a bare `tf.function` loop, same model and data.

    python benchmarks/bench_train.py [--steps 150] [--rounds 3]

Both sides use the task's model, input pipeline (TFRecords written here: 32-px PNGs, pad-crop-flip,
mixup type 1, label smoothing) and loss with weight decay. The runner's figure includes all it does
per call: restoring the latest checkpoint, starting the input iterator, the DropBlock/LR schedules,
progress bar, TensorBoard + metrics.jsonl logging and the checkpoint written at the end. Rounds
alternate runner and bare loop; medians are reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "train"))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from trainlib import toy_config, write_toy_dataset  # noqa: E402

from assembled_cnn.train.runner import Runner  # noqa: E402


def bare_loop(runner: Runner, steps: int) -> float:
    """The same model/data/loss with nothing around the step: seconds for `steps` steps."""
    task, model = runner.task, runner.model
    optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
    optimizer.build(model.trainable_variables)
    regularization = runner.parts.regularization

    @tf.function
    def step(iterator):
        features, targets = next(iterator)
        with tf.GradientTape() as tape:
            loss, _, _ = task.compute_loss(model, features, targets, regularization, 1)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    iterator = iter(task.build_inputs(True))
    step(iterator).numpy()  # trace
    start = time.perf_counter()
    for _ in range(steps):
        loss = step(iterator)
    loss.numpy()
    return time.perf_counter() - start


def runner_chunk(runner: Runner, steps: int) -> float:
    start = time.perf_counter()
    runner.train(until_step=runner.step + steps)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_train_"))
    data = write_toy_dataset(work / "data", train=2048, validation=64, shards=8)
    config = toy_config(data, work / "run", model={"num_filters": 16},
                        data={"mixup_type": 1, "label_smoothing": 0.1, "deterministic": False},
                        train={"batch_size": 64, "train_epochs": 1000},
                        run={"op_determinism": False, "log_every_n_steps": 50, "save_checkpoints_steps": 10 ** 9,
                             "mode": "train"})
    runner = Runner(config)
    runner_chunk(runner, 5)  # trace the runner's step
    bare_loop(runner, 5)
    ours, bare = [], []
    for _ in range(args.rounds):
        ours.append(args.steps / runner_chunk(runner, args.steps))
        bare.append(args.steps / bare_loop(runner, args.steps))
    o, b = statistics.median(ours), statistics.median(bare)
    print(f"machine: {os.cpu_count()} CPUs; model resnet18 (16 filters) at 32 px, batch 64, {args.steps} steps x "
          f"{args.rounds} rounds")
    print("| loop | steps/s (median) |\n|---|---|")
    print(f"| bare tf.function | {b:.2f} |\n| Runner.train | {o:.2f} |")
    print(f"runner overhead: {100 * (1 - o / b):.1f}% (target <= 5%)")


if __name__ == "__main__":
    main()

"""Fixed-feature transfer cost: feature extraction and linear-probe fitting, vs plain scikit-learn.

    python -m assembled_cnn.datasets.fetch fashion_mnist --output_dir data/fashion_mnist
    python benchmarks/bench_transfer.py --data_dir data/fashion_mnist [--num_train 5000]
    python benchmarks/bench_transfer.py --data_dir data/fashion_mnist --quick   # < 60 s

Without ``--data_dir`` the real Fashion-MNIST TFRecords are fetched (Debian package, cached)
into a temporary directory first. The network is a tiny ResNet-18 (random init, or
``--model_dir``); its ``features`` of ``--num_train`` train records and ``--num_test``
validation records are extracted once, then on the same features:

  1. ``fit_linear_probe``: C chosen over the default grid on a held-out 20% of the train
     features (warm-started sweep) and refitted on all of them;
  2. ``fit_linear_probe`` at one C (no search);
  3. plain ``LogisticRegression(solver='lbfgs')`` at the same C on raw features, with the
     library's default BLAS threads and with one thread (``--quick``: 2,000 + 1,000
     images, and the default-threads fit stops after 100 iterations: on a busy machine
     OpenBLAS's spinning threads make each iteration ~100x slower);
  4. the same grid search written with plain scikit-learn (StandardScaler + a cold
     LogisticRegression per C), to show what the warm starts save.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from assembled_cnn.model_dir import restore_model  # noqa: E402
from assembled_cnn.nets import build_model  # noqa: E402
from assembled_cnn.preprocessing import get_preset  # noqa: E402
from assembled_cnn.transfer import DEFAULT_GRID, accuracy, extract_features  # noqa: E402
from assembled_cnn.transfer import fit_linear_probe  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", default=None, help="fetched Fashion-MNIST TFRecords")
    parser.add_argument("--model_dir", default=None, help="default: tiny random ResNet-18")
    parser.add_argument("--num_train", type=int, default=5000)
    parser.add_argument("--num_test", type=int, default=2000)
    parser.add_argument("--batch_size", type=int, default=250)
    parser.add_argument("--C", type=float, default=1.0, help="C of the single-C comparisons")
    parser.add_argument("--max_iter", type=int, default=1000)
    parser.add_argument("--full_grid", action="store_true", help="add the paper's 45-C grid")
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    args = parser.parse_args()
    if args.quick:
        args.num_train, args.num_test = min(args.num_train, 2000), min(args.num_test, 1000)
    return args


def fashion_mnist_dir(data_dir: str | None) -> str:
    if data_dir is not None:
        return data_dir
    from assembled_cnn.datasets.fetch import fetch
    target = os.path.join(tempfile.mkdtemp(prefix="bench_transfer_"), "fashion_mnist")
    fetch("fashion_mnist", target, num_workers=2)
    return target


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def sklearn_grid_search(train_x, train_y, val_x, val_y, C_values, max_iter):
    """The same protocol with plain scikit-learn: cold fit per C, refit on train + val."""
    scaler = StandardScaler().fit(train_x)
    scores = {}
    for C in C_values:
        model = LogisticRegression(C=C, solver="lbfgs", max_iter=max_iter)
        model.fit(scaler.transform(train_x), train_y)
        scores[C] = model.score(scaler.transform(val_x), val_y)
    best = max(C_values, key=lambda c: (scores[c], -c))
    all_x, all_y = np.concatenate([train_x, val_x]), np.concatenate([train_y, val_y])
    scaler = StandardScaler().fit(all_x)
    model = LogisticRegression(C=best, solver="lbfgs", max_iter=max_iter)
    model.fit(scaler.transform(all_x), all_y)
    return lambda x: model.predict(scaler.transform(x)), best


def load_features(args: argparse.Namespace):
    data_dir = fashion_mnist_dir(args.data_dir)
    preset = get_preset("mnist", train_size=32, eval_size=32)
    if args.model_dir:
        model = restore_model(args.model_dir)
    else:
        tf.keras.utils.set_random_seed(0)
        model = build_model("resnet18", num_filters=8, num_classes=10, input_size=32)
    train, t_train = timed(lambda: extract_features(
        model, data_dir, preset, args.batch_size, max_examples=args.num_train))
    test, t_test = timed(lambda: extract_features(
        model, data_dir, preset, args.batch_size, pattern="validation-*",
        max_examples=args.num_test))
    print(f"\nFashion-MNIST features: {len(train[0])} train + {len(test[0])} test, "
          f"D={train[0].shape[1]}")
    print(f"feature extraction: train {len(train[0]) / t_train:,.0f} img/s ({t_train:.1f} s), "
          f"test {len(test[0]) / t_test:,.0f} img/s ({t_test:.1f} s)\n")
    return train, test


def probe_rows(args, split, test_x, test_y) -> list[tuple]:
    rows = []
    probe, seconds = timed(lambda: fit_linear_probe(*split, max_iter=args.max_iter))
    rows.append((f"fit_linear_probe, {len(DEFAULT_GRID)}-C grid + refit", seconds,
                 accuracy(test_y, probe.predict(test_x)), f"C={probe.C:.3g}"))
    probe, seconds = timed(lambda: fit_linear_probe(*split, c_grid=[args.C],
                                                    max_iter=args.max_iter))
    rows.append(("fit_linear_probe, one C + refit", seconds,
                 accuracy(test_y, probe.predict(test_x)), f"C={args.C:g}"))
    if args.full_grid:
        probe, seconds = timed(lambda: fit_linear_probe(*split, full_grid=True,
                                                        max_iter=args.max_iter))
        rows.append(("fit_linear_probe, 45-C Kornblith grid + refit", seconds,
                     accuracy(test_y, probe.predict(test_x)), f"C={probe.C:.3g}"))
    return rows


def sklearn_rows(args, split, test_x, test_y) -> list[tuple]:
    train_x, train_y = np.concatenate(split[0::2]), np.concatenate(split[1::2])
    rows = []
    for threads, label in ((None, "default threads"), (1, "1 BLAS thread")):
        max_iter = 100 if args.quick and threads is None else args.max_iter
        with threadpool_limits(limits=threads, user_api="blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            plain, seconds = timed(lambda: LogisticRegression(
                C=args.C, solver="lbfgs", max_iter=max_iter).fit(train_x, train_y))
        rows.append((f"sklearn LogisticRegression raw, {label}", seconds,
                     plain.score(test_x, test_y),
                     f"C={args.C:g}, {plain.n_iter_[0]}/{max_iter} it"))
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        (predict, best), seconds = timed(lambda: sklearn_grid_search(
            *split, list(DEFAULT_GRID), args.max_iter))
    rows.append(("sklearn grid search (cold starts), 1 thread", seconds,
                 accuracy(test_y, predict(test_x)), f"C={best:.3g}"))
    return rows


def main() -> None:
    args = parse_args()
    (train_x, train_y), (test_x, test_y) = load_features(args)
    n_fit = int(0.8 * len(train_x))
    split = (train_x[:n_fit], train_y[:n_fit], train_x[n_fit:], train_y[n_fit:])
    rows = probe_rows(args, split, test_x, test_y) + sklearn_rows(args, split, test_x, test_y)
    print(f"{'method':<48} {'seconds':>8} {'test top-1':>10}  note")
    for name, seconds, acc, note in rows:
        print(f"{name:<48} {seconds:>8.2f} {100 * acc:>9.2f}%  {note}")


if __name__ == "__main__":
    main()

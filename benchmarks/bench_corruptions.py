"""Images/s of the fast TF corruptions (batched) vs imagecorruptions, 224 px, 15 x 5.

    .venv/bin/python benchmarks/bench_corruptions.py --num_images 8 --rounds 5 [--cpu 0]
    .venv/bin/python benchmarks/bench_corruptions.py --all_cores --ours_only

One core by default: the process pins itself to ``--cpu`` (like ``taskset -c``), TF uses one
intra-op and one inter-op thread, OpenCV one thread. For every (corruption, severity):

* ours: one ``tf.function`` per (corruption, severity) on the whole batch (``corrupt`` in eager
  mode), traced and run once before timing; the tracing count is checked to stay 1 while timed;
* imagecorruptions: one call per image (its API), warmed up on the same severity first (numba
  compiles ``_shuffle_pixels_njit_glass_blur`` per argument types, severity 3 included).

Timings of the two sides are interleaved (ours, then theirs, per severity) and repeated
``--rounds`` times; the per-(corruption, severity) median is used. "img/s" of a corruption is
5 * N / (sum of its 5 median times); the overall figure is 75 * N / (sum of all 75 median
times), i.e. the harmonic combination (total time to apply all 15 x 5 to N images).
Images are real photos (the foolbox ImageNet samples the tests use, fetched if possible) resized to
``--size``, else smooth synthetic images; uniform noise would make JPEG unrepresentatively slow.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def foolbox_photos() -> list:
    """The foolbox wheel's ImageNet JPEGs (`datasets.fetch`), or [] when they cannot be fetched."""
    from assembled_cnn.datasets.fetch import FetchError, cache_dir, fetch_foolbox_samples

    try:
        return sorted(fetch_foolbox_samples(cache_dir()).glob("imagenet_*.jpg"))
    except (FetchError, OSError):
        return []


def load_images(count: int, size: int) -> tuple[np.ndarray, str]:
    files = foolbox_photos()
    if files:
        from PIL import Image

        photos = [np.asarray(Image.open(f).convert("RGB").resize((size, size), Image.BILINEAR))
                  for f in files]
        return np.stack([photos[i % len(photos)] for i in range(count)]), "foolbox photos"
    yy, xx = np.mgrid[0:size, 0:size] / size
    rng = np.random.default_rng(0)
    images = []
    for _ in range(count):
        a, b, c = rng.uniform(2, 9, 3)
        image = np.stack([np.sin(a * xx + b * yy), np.cos(b * xx * yy * c), np.sin(c * yy)], -1)
        images.append(((image + 1) * 127.5 + rng.normal(0, 4, image.shape)).clip(0, 255))
    return np.stack(images).astype(np.uint8), "synthetic images"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--num_images", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cpu", type=int, default=0, help="core to pin to (one-core mode)")
    parser.add_argument("--all_cores", action="store_true", help="no pinning, TF default threads")
    parser.add_argument("--ours_only", action="store_true")
    parser.add_argument("--corruptions", nargs="*", default=None)
    return parser.parse_args()


def reference_corruptor(args: argparse.Namespace):
    """imagecorruptions' `corrupt` (OpenCV on one thread in one-core mode), or None with --ours_only."""
    if args.ours_only:
        return None
    import cv2

    if not args.all_cores:
        cv2.setNumThreads(1)
    from imagecorruptions import corrupt as reference_corrupt

    return reference_corrupt


def time_rounds(images: np.ndarray, pairs: list, rounds: int, reference_corrupt) -> tuple[dict, dict, dict]:
    """(ours, reference) seconds per (corruption, severity) and round, interleaved, after a
    warm-up; plus each pair's tracing count, which must not change while timed."""
    import tensorflow as tf
    from assembled_cnn.robustness.corruptions import corrupt
    from assembled_cnn.robustness.corruptions.registry import _compiled

    batch = tf.constant(images)
    for name, severity in pairs:  # warm-up: tracing/XLA compile, numba JIT (not timed)
        corrupt(batch, name, severity, index=1).numpy()
        if reference_corrupt is not None:
            reference_corrupt(images[0], severity, name)
    traces = {pair: _compiled(*pair).experimental_get_tracing_count() for pair in pairs}
    ours = {pair: [] for pair in pairs}
    ref = {pair: [] for pair in pairs}
    for round_ in range(rounds):
        for pair in pairs:
            start = time.perf_counter()
            corrupt(batch, pair[0], pair[1], index=round_ * len(images)).numpy()
            ours[pair].append(time.perf_counter() - start)
            if reference_corrupt is not None:
                start = time.perf_counter()
                for image in images:
                    reference_corrupt(image, pair[1], pair[0])
                ref[pair].append(time.perf_counter() - start)
    retraced = [pair for pair in pairs if _compiled(*pair).experimental_get_tracing_count() != traces[pair]]
    assert not retraced, f"retraced while timed: {retraced}"
    return ours, ref, traces


def print_table(names: list, num_images: int, ours: dict, ref: dict) -> None:
    """img/s per corruption (5 severities) and over all of them, with the reference's ratio."""
    print(f"{'corruption':18s} {'ours img/s':>10s} {'ref img/s':>10s} {'ratio':>7s}")
    total_ours = total_ref = 0.0
    for name in names:
        ours_s = sum(float(np.median(ours[(name, s)])) for s in range(1, 6))
        ref_s = sum(float(np.median(ref[(name, s)])) for s in range(1, 6)) if ref[(name, 1)] else 0
        total_ours, total_ref = total_ours + ours_s, total_ref + ref_s
        count = 5 * num_images
        ref_text = f"{count / ref_s:10.1f} {ref_s / ours_s:7.2f}" if ref_s else ""
        print(f"{name:18s} {count / ours_s:10.1f} {ref_text}")
    count = 5 * len(names) * num_images
    ref_text = f"{count / total_ref:10.1f} {total_ref / total_ours:7.2f}" if total_ref else ""
    print(f"{f'all {len(names)} x 5':18s} {count / total_ours:10.1f} {ref_text}")


def main() -> None:
    args = parse_args()
    if not args.all_cores:
        os.sched_setaffinity(0, {args.cpu})
    import tensorflow as tf

    if not args.all_cores:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    from assembled_cnn.robustness.corruptions import COMMON_CORRUPTIONS

    reference_corrupt = reference_corruptor(args)
    names = args.corruptions or list(COMMON_CORRUPTIONS)
    images, source = load_images(args.num_images, args.size)
    pairs = [(name, severity) for name in names for severity in range(1, 6)]
    ours, ref, traces = time_rounds(images, pairs, args.rounds, reference_corrupt)
    mode = "all cores" if args.all_cores else f"one core (cpu {args.cpu})"
    print(f"{len(images)} {source} {args.size} px, {mode}, median of {args.rounds} rounds, "
          f"tracings per (corruption, severity): {sorted(set(traces.values()))}")
    print_table(names, len(images), ours, ref)


if __name__ == "__main__":
    main()

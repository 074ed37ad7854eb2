"""Images/s of the fast TF corruptions (batched) vs imagecorruptions, one core, 224 px.

    taskset -c 0 .venv/bin/python benchmarks/bench_corruptions.py --num_images 8
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--num_images", type=int, default=32)
    parser.add_argument("--size", type=int, default=224)
    args = parser.parse_args()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from imagecorruptions import corrupt as reference_corrupt

    from assembled_cnn.robustness.corruptions import COMMON_CORRUPTIONS, corrupt

    images = np.random.default_rng(0).integers(0, 256, (args.num_images, args.size, args.size, 3), np.uint8)
    total_ours = total_ref = 0.0
    print(f"{'corruption':18s} {'ours img/s':>10s} {'ref img/s':>10s} {'ratio':>7s}")
    for name in COMMON_CORRUPTIONS:
        ours = ref = 0.0
        for severity in range(1, 6):
            corrupt(images[:2], name, severity)  # trace once (not timed)
            corrupt(images, name, severity)
            start = time.perf_counter()
            corrupt(images, name, severity).numpy()
            ours += time.perf_counter() - start
            reference_corrupt(images[0], severity, name)  # numba warm-up
            start = time.perf_counter()
            for image in images:
                reference_corrupt(image, severity, name)
            ref += time.perf_counter() - start
        count = 5 * args.num_images
        print(f"{name:18s} {count / ours:10.1f} {count / ref:10.1f} {ref / ours:7.2f}")
        total_ours, total_ref = total_ours + ours, total_ref + ref
    count = 75 * args.num_images
    print(f"{'all 15 x 5':18s} {count / total_ours:10.1f} {count / total_ref:10.1f} "
          f"{total_ref / total_ours:7.2f}")


if __name__ == "__main__":
    main()

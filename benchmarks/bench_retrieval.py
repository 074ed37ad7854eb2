"""Recall@{1,10,100} over SOP-size random embeddings: time and working memory of our blockwise
exact search against scikit-learn's brute-force NearestNeighbors and faiss-cpu IndexFlatIP.

    python benchmarks/bench_retrieval.py                    # 60,502 x 2,048 (SOP validation size)
    python benchmarks/bench_retrieval.py --num 20000 --repeats 3   # interleaved, medians
    python benchmarks/bench_retrieval.py --quick                    # 5,000 x 512

The embeddings are float32 class centres plus 4x as much Gaussian noise (11,316 classes of ~5
images, like SOP's validation split; recall is far from 1), cosine similarity. Each method runs in its own process: its working memory is
the peak resident set during the search minus the resident set just before it (the embeddings
themselves are already there). All methods exclude the query itself; their recalls must agree.
faiss-cpu is optional: the row is skipped when it is not importable.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

KS = (1, 10, 100)
METHODS = ("ours", "sklearn", "faiss")


def make_embeddings(num: int, dim: int, per_class: float, noise: float = 4.0,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    classes = max(1, int(round(num / per_class)))
    labels = np.sort(rng.integers(0, classes, num))
    centres = rng.standard_normal((classes, dim), dtype=np.float32)
    return centres[labels] + noise * rng.standard_normal((num, dim), dtype=np.float32), labels


def recall_from_neighbours(neighbours: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """`neighbours` [n, >= 100] without the query itself, best first."""
    same = labels[neighbours] == labels[:, None]
    return {f"recall_at_{k}": float(same[:, :k].any(axis=1).mean()) for k in KS}


def drop_self(index: np.ndarray, k: int) -> np.ndarray:
    """Neighbour lists of k + 1 that include the query -> the first k others."""
    rows = np.arange(len(index))[:, None]
    keep = index != rows
    return np.stack([row[mask][:k] for row, mask in zip(index, keep)])


def run_ours(x, labels):
    from assembled_cnn.retrieval import recall_at_k
    return recall_at_k(x, labels, KS, "cosine")


def run_sklearn(x, labels):
    from sklearn.neighbors import NearestNeighbors
    search = NearestNeighbors(n_neighbors=KS[-1] + 1, algorithm="brute", metric="cosine").fit(x)
    _, index = search.kneighbors(x)
    return recall_from_neighbours(drop_self(index, KS[-1]), labels)


def run_faiss(x, labels):
    import faiss
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    _, neighbours = index.search(x, KS[-1] + 1)
    return recall_from_neighbours(drop_self(neighbours, KS[-1]), labels)


def rss_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def rss_now_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def child(method: str, num: int, dim: int) -> dict:
    x, labels = make_embeddings(num, dim, per_class=60_502 / 11_316)
    if method == "ours":
        import tensorflow  # noqa: F401  (its import is not the search's memory)
    elif method == "sklearn":
        import sklearn.neighbors  # noqa: F401
    before = rss_now_mib()
    started = time.perf_counter()
    results = {"ours": run_ours, "sklearn": run_sklearn, "faiss": run_faiss}[method](x, labels)
    seconds = time.perf_counter() - started
    return {"method": method, "seconds": seconds, "working_mib": rss_peak_mib() - before,
            "embeddings_mib": x.nbytes / 2 ** 20,
            **{k: v for k, v in results.items() if k.startswith("recall_at_")}}


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num", type=int, default=60_502)
    parser.add_argument("--dim", type=int, default=2_048)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--repeats", type=int, default=1, help="interleaved runs per method (median)")
    parser.add_argument("--quick", action="store_true", help="5,000 x 512")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.num, args.dim = min(args.num, 5_000), min(args.dim, 512)
    if args.child:
        print("RESULT" + json.dumps(child(args.child, args.num, args.dim)))
        return
    print(f"{args.num:,} x {args.dim:,} float32 embeddings, cosine, Recall@{{1,10,100}}")
    methods = [m for m in args.methods.split(",") if m != "faiss" or faiss_available()]
    if "faiss" in args.methods and "faiss" not in methods:
        print("faiss: not importable (pip install faiss-cpu), skipped")
    runs: dict[str, list[dict]] = {m: [] for m in methods}
    for _ in range(args.repeats):  # interleaved, so load changes hit every method alike
        for method in methods:
            runs[method].append(run_child(method, args.num, args.dim))
    summary = {m: {key: float(np.median([r[key] for r in rows])) for key in rows[0] if key != "method"}
               for m, rows in runs.items()}
    for method, row in summary.items():
        print(f"{method:8s} {row['seconds']:8.1f} s  working memory {row['working_mib']:7.0f} MiB  "
              + "  ".join(f"R@{k}={row[f'recall_at_{k}']:.4f}" for k in KS)
              + f"  (median of {args.repeats})")
    if "ours" in summary:
        ours = summary["ours"]
        for method, row in summary.items():
            if method != "ours":
                same = all(abs(ours[f"recall_at_{k}"] - row[f"recall_at_{k}"]) < 1e-9 for k in KS)
                print(f"ours / {method}: time {ours['seconds'] / row['seconds']:.2f}x, working memory "
                      f"{ours['working_mib']:.0f} vs {row['working_mib']:.0f} MiB, same recall: {same}")


def run_child(method: str, num: int, dim: int) -> dict:
    done = subprocess.run([sys.executable, __file__, f"--child={method}", f"--num={num}", f"--dim={dim}"],
                          capture_output=True, text=True, check=True)
    row = json.loads(done.stdout.split("RESULT", 1)[1])
    print(f"  {method}: {row['seconds']:.1f} s, {row['working_mib']:.0f} MiB", flush=True)
    return row

if __name__ == "__main__":
    main()

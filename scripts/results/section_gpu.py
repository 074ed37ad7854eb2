"""The page's GPU section: what the lent GPU sessions ran of (a) and (c), read from
docs/results/data/gpu/*.json (written by scripts/results/gpu/collect_device_run.py)."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from assembled_cnn.report.markdown import markdown_table  # noqa: E402

A_STEPS_PER_EPOCH = 60000 // 128   # (a): batch 128, 8 epochs, 3 seeds per arm
A_EPOCHS, SEEDS = 8, 3

HOW = """The lent machine has PyTorch, torchvision, JAX and scikit-learn but no TensorFlow, and a TensorFlow
wheel with its CUDA libraries (several GB) cannot travel to it (64 MiB per call). So the GPU runs use
the toolkit's own networks (`assembled_cnn.nets`, whose layers are written with `keras.ops` and run
under any Keras 3 backend) on **Keras's torch backend**, trained by `scripts/results/gpu/`: the same
recipe as the CPU runs (SGD + momentum, warm-up + cosine, L2 on kernels, label smoothing, in-batch
mixup, DropBlock schedule) re-expressed in a few lines of torch. Two things differ, because their TF
code cannot run there: AutoAugment is torchvision's CIFAR-10 policy (25 sub-policies, vs the
original's 95 `good_policies` on the CPU), and corruptions come from the reference `imagecorruptions`
package on a fixed 1,000-image test subset. `scripts/results/gpu/gpu_results.sh` is the whole
time-boxed command. Since that session the runner defaults to Keras's JAX backend with the whole
training step compiled (`jax_recipe.py`; it trains the same weights as the torch loop, see
`tests/results/test_gpu_results.py`); it has not run on a GPU yet.

In a session that is lent a GPU: `scripts/results/gpu/prepare_carry.sh` (here, once: 53 MB of data,
weights and wheels into the git-ignored `.gpu_carry/`), then one device command,
`bash scripts/results/gpu/device_run.sh` with `.gpu_carry` carried and a timeout of about 590 s (the
tiny plan first; the full plan only if none of its jobs failed), then, here,
`scripts/results/gpu/collect_device_run.py` on the folder the files came back to and
`scripts/results/make_report.py`."""


def gpu_runs() -> list[dict]:
    folder = common.RESULTS_DIR / "gpu"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def fixed_rows(cells: list[dict]) -> list[dict]:
    rows = []
    for per_class in sorted({c["per_class"] for c in cells}):
        values = [c["test_top1"] for c in cells if c["per_class"] == per_class]
        if len(values) >= SEEDS:
            shown = common.format_mean_std(values, 100)
        else:
            shown = ", ".join(f"{100 * v:.2f}" for v in values) + f" ({len(values)} of {SEEDS} seeds: no interval)"
        rows.append({"labelled images per class": per_class, "seeds": len(values), "test top-1 (%)": shown})
    return rows


def epoch_rows(epochs: dict[str, list[dict]]) -> list[dict]:
    rows = []
    for arm in ("vanilla", "assembled"):
        jobs = {k: v for k, v in epochs.items() if k.startswith(f"a_{arm}_")}
        if jobs:
            seconds = [e["seconds"] for v in jobs.values() for e in v]
            rows.append({"arm": arm, "runs": len(jobs), "epochs finished (of 8)": ", ".join(str(len(v)) for v in jobs.values()),
                         "s per epoch (mean)": f"{statistics.mean(seconds):.0f}"})
    return rows


def probe_rows(probe: dict) -> tuple[list[dict], float]:
    timings = probe["ms_per_step"]
    rows = [{"network (64 filters, 56 px)": key.split("_b")[0], "batch": int(key.split("_b")[1]),
             "ms per training step": f"{ms:.0f}", "images/s": f"{int(key.split('_b')[1]) / ms * 1000:.0f}"}
            for key, ms in timings.items()]
    one_each = timings.get("vanilla_b128", 0) + timings.get("assembled_b128", 0)
    return rows, SEEDS * A_EPOCHS * A_STEPS_PER_EPOCH * one_each / 1000 / 60


def run_markdown(run: dict) -> str:
    full, smoke = run["full"], run.get("smoke")
    machine = full["machine"]
    parts = [f"### {run['name']}: {run['nvidia_smi'] or machine['gpu']}, {machine['cpu_cores']} CPU cores, "
             f"Python {machine['python']}, torch {machine['torch']}, Keras {machine['keras']} (torch backend)\n"]
    if smoke:
        parts.append(f"**Smoke run** (the same plan at tiny sizes, {smoke['wall_s']:.0f} s box): "
                     f"{len(smoke['finished'])} jobs finished on the GPU, {len(smoke['failed'])} failed, "
                     f"{len(smoke['not_started'])} not started at the box.\n")
    parts.append(f"**Full run** ({full['wall_s']:.0f} s box, 8 jobs at once): {len(full['finished'])} of "
                 f"{len(full['scheduled'])} started jobs finished; stopped at the box: {', '.join(full['failed']) or 'none'}; "
                 f"never started: {', '.join(full['not_started']) or 'none'}.\n")
    if full["fixed_cells"]:
        fixed_spec = next((j for j in full.get("plan", []) if j.get("kind") == "fixed"), {})
        choice = ("on the 5,000-image validation split, then fit on each subset"
                  if fixed_spec.get("c_choice") == "validation split" else
                  "on 20 % of each subset, then refit on all of it: the CPU study's protocol before 2026-11-29")
        parts.append(f"(c) fixed features, EfficientNet-Lite0 (ImageNet) at 224 px → Fashion-MNIST, L-BFGS "
                     f"logistic regression (C chosen {choice}), full test split:\n\n"
                     + markdown_table(fixed_rows(full["fixed_cells"])))
    search = {k: v for k, v in full["finished"].items() if "_search_" in k}
    for name, result in sorted(search.items()):
        parts.append(f"(c) {name}: validation top-1 {100 * result['top1']:.2f} % (1000 per class, 4 epochs, "
                     f"{result['train_s']:.0f} s); the rest of its grid did not run, so no regime was chosen.\n")
    if full["epochs"]:
        parts.append("(a) did not finish any run. Epoch times with 8 jobs sharing the GPU and its 16 cores:\n\n"
                     + markdown_table(epoch_rows(full["epochs"])))
    if "probe" in run:
        rows, minutes = probe_rows(run["probe"])
        parts.append("One network alone in one process (random data, after 5 warm-up steps, 20 timed):\n\n"
                     + markdown_table(rows)
                     + f"\nThe step time hardly grows with the batch: eager Keras-on-torch is bound by Python "
                       f"overhead per layer, not by the GPU. At these rates (a)'s 3 seeds × 2 arms × 8 epochs at "
                       f"batch 128 need about {minutes:.0f} min of device time one after another, against the 15 min a "
                       f"session is lent (start-up included).\n")
    return "\n".join(parts)


def section() -> str:
    runs = gpu_runs()
    if not runs:
        return "No GPU was lent to the sessions that ran this suite.\n"
    status = ("**Status: not done.** Neither (a) nor (c) finished at the larger scale within the device time "
              "of the one session that had a GPU; what it measured is below, and the verdicts above are the "
              "CPU runs' alone. The eager path it ran is overhead-bound; the compiled JAX step is what the next "
              "GPU session runs (`torch.compile` was tried on the CPU: 91 s to compile, recompiling, and slower).\n")
    return "\n".join([HOW + "\n", status] + [run_markdown(run) for run in runs])

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

SEEDS, TRAIN_IMAGES = 3, 60000
# What runs stored before they recorded their plan (the 2026-11-29 H200 session) ran
UNRECORDED_PLAN = {"assembled": {"width": 64, "epochs": 8, "batch_size": 128, "image_size": 56},
                   "finetune": {"per_class": 1000, "image_size": 224}, "fixed": {"image_size": 224}}

HOW = """The lent machine has PyTorch, torchvision, JAX and scikit-learn but no TensorFlow, and a TensorFlow
wheel with its CUDA libraries (several GB) cannot travel to it (64 MiB per call). So the GPU runs use
the toolkit's own networks (`assembled_cnn.nets`, whose layers are written with `keras.ops`; checked to
give TensorFlow's logits under Keras's torch and JAX backends) trained by `scripts/results/gpu/`, which
re-expresses the CPU runs' recipe: SGD with momentum in Keras's form, warm-up then cosine LR, L2 on
kernels, label smoothing, in-batch mixup, the DropBlock schedule, BN momentum 0.9. What differs from
the CPU runs, because their TF code cannot run there or for the 15-minute budget: AutoAugment is
torchvision's CIFAR-10 policy (25 sub-policies, vs the original's 95 `good_policies`); corruptions
come from the reference `imagecorruptions` package on a fixed 1,000-image test subset; BN is Keras's
(normalised with the biased batch variance, like TF's fused kernel, but its moving variance is updated
with it too); (a) trains at 64 filters with the LR (0.2) that the CPU search chose at 16; (c) runs at
224 px (CPU: 128), batch 64 (CPU: 32), 3 LR points × 1 weight decay per regime (CPU: 4 × 2), with
validation on 5,000 held-out train images. `scripts/results/gpu/gpu_results.sh` is the whole
time-boxed command. The first session ran it on the torch backend, eagerly; since then it defaults to
Keras's JAX backend with the whole step compiled (`jax_recipe.py`: two steps of it and of the torch loop
give the same updates to 5e-6, `tests/results/test_gpu_results.py`); {jax_status}.
If its tiny plan fails on the GPU, the device command runs the tiny plan again on torch and, if that
passes, the full plan on torch (both smoke runs are reported).

In a session that is lent a GPU: `scripts/results/gpu/prepare_carry.sh` (here, once: 53 MB of data,
weights and wheels into the git-ignored `.gpu_carry/`), then one device command,
`bash scripts/results/gpu/device_run.sh` with `.gpu_carry` carried and a timeout of about 590 s (the
tiny plan first; the full plan, in what is left of a 560 s box, only if no tiny job ended in an error), then, here,
`scripts/results/gpu/collect_device_run.py` on the folder the files came back to and
`scripts/results/make_report.py`."""


def backend_of(run: dict) -> str:
    machine = (run["full"] or run.get("smoke") or {}).get("machine", {})
    return machine.get("keras_backend", "torch")


def jax_status(runs: list[dict]) -> str:
    """Whether the compiled JAX path has trained on a GPU, read from the stored runs."""
    ran = [run["name"] for run in runs if run["full"] and backend_of(run) == "jax"
           and any(k.startswith("a_") for k in run["full"]["finished"])]
    return f"that path trained on a GPU in {', '.join(ran)}" if ran else "that path has not trained on a GPU yet"


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


def plan_spec(full: dict, kind: str) -> dict:
    """The first job of `kind` in the run's own plan (sizes, epochs, width)."""
    return next((j for j in full.get("plan", []) if j.get("kind") == kind), UNRECORDED_PLAN.get(kind, {}))


def epoch_rows(epochs: dict[str, list[dict]], planned_epochs: int) -> list[dict]:
    rows = []
    for arm in ("vanilla", "assembled"):
        jobs = {k: v for k, v in epochs.items() if k.startswith(f"a_{arm}_")}
        if jobs:
            seconds = [e["seconds"] for v in jobs.values() for e in v]
            rows.append({"arm": arm, "runs": len(jobs), f"epochs finished (of {planned_epochs})": ", ".join(str(len(v)) for v in jobs.values()),
                         "s per epoch (mean)": f"{statistics.mean(seconds):.0f}"})
    return rows


def probe_rows(probe: dict, a: dict) -> tuple[list[dict], float | None]:
    """The probe's own table, and (a)'s serial device minutes at its rates (None when the probe
    measured another width or not (a)'s batch)."""
    timings = probe["ms_per_step"]
    rows = [{f"network ({probe['width']} filters, {probe['image_size']} px)": key.split("_b")[0], "batch": int(key.split("_b")[1]),
             "ms per training step": f"{ms:.0f}", "images/s": f"{int(key.split('_b')[1]) / ms * 1000:.0f}"}
            for key, ms in timings.items()]
    batch = a["batch_size"]
    keys = (f"vanilla_b{batch}", f"assembled_b{batch}")
    if (probe["width"], probe["image_size"]) != (a["width"], a["image_size"]) or not all(k in timings for k in keys):
        return rows, None
    return rows, SEEDS * a["epochs"] * (TRAIN_IMAGES // batch) * sum(timings[k] for k in keys) / 1000 / 60


def a_rows(finished: dict) -> list[dict]:
    """(a)'s finished runs per arm: test top-1 and, where the corrupted subset was scored, mCE."""
    from assembled_cnn.robustness.mce import compute_mce

    rows, by_arm = [], {}
    for arm in ("vanilla", "assembled"):
        runs = {r["seed"]: r for k, r in finished.items() if k.startswith(f"a_{arm}_") and "test_top1" in r}
        scored = {s: compute_mce(r["corruption_errors"], r["subset_clean_error"]) for s, r in runs.items()
                  if r.get("corruption_errors")}
        by_arm[arm] = (runs, scored)
        if runs:
            rows.append({"arm": arm, "seeds": len(runs),
                         "test top-1 (%)": common.format_mean_std([r["test_top1"] for r in runs.values()], 100),
                         "mCE (%)": common.format_mean_std([m["mce"] for m in scored.values()]),
                         "relative mCE (%)": common.format_mean_std([m["relative_mce"] for m in scored.values()])})
    (va, vs), (aa, as_) = by_arm["vanilla"], by_arm["assembled"]
    seeds = sorted(set(va) & set(aa))
    if len(seeds) >= SEEDS:
        top1 = common.paired_difference([va[s]["test_top1"] for s in seeds], [aa[s]["test_top1"] for s in seeds])
        rows.append({"arm": "assembled − vanilla (paired)", "seeds": len(seeds),
                     "test top-1 (%)": common.format_interval(top1, 100), "mCE (%)": "", "relative mCE (%)": ""})
        both = sorted(set(vs) & set(as_))
        if len(both) >= SEEDS:
            mce = common.paired_difference([vs[s]["mce"] for s in both], [as_[s]["mce"] for s in both])
            rows[-1]["mCE (%)"] = common.format_interval(mce)
    return rows


def c_final_rows(finished: dict, chosen: dict) -> list[dict]:
    rows = []
    for regime in ("finetune", "random"):
        runs = [r for k, r in finished.items() if k.startswith(f"c_{regime}_final_") and not r.get("partial")]
        if runs or regime in chosen:
            rows.append({"regime": regime, "LR chosen on validation": chosen.get(regime, "—"), "seeds": len(runs),
                         "test top-1 (%)": common.format_mean_std([r["top1"] for r in runs], 100)})
    return rows


def search_lines(full: dict) -> list[str]:
    lines = []
    for name, result in sorted(full["finished"].items()):
        if "_search_" in name and "top1" in result:
            lines.append(f"- {name}: validation top-1 {100 * result['top1']:.2f} % ({result['train_s']:.0f} s)")
    for name in sorted(n for n in full["failed"] if "_search_" in n) + [n for n in full["not_started"] if "_search_" in n]:
        lines.append(f"- {name}: {'stopped or failed' if name in full['failed'] else 'never started'}")
    return lines


def heading(run: dict) -> str:
    machine = (run["full"] or run["smoke"])["machine"]
    versions = ", ".join(f"{k} {machine[k]}" for k in ("torch", "jax", "keras") if machine.get(k))
    return (f"### {run['name']}: {run['nvidia_smi'] or machine['gpu']}, {machine['cpu_cores']} CPU cores, "
            f"Python {machine['python']}, {versions}; Keras backend: {machine.get('keras_backend', 'torch')}\n")


def fixed_markdown(full: dict) -> str:
    fixed_spec = plan_spec(full, "fixed")
    choice = ("on the 5,000-image validation split, then fit on each subset"
              if fixed_spec.get("c_choice") == "validation split" else
              "on 20 % of each subset, then refit on all of it: the CPU study's protocol before 2026-11-29")
    return (f"(c) fixed features, EfficientNet-Lite0 (ImageNet) at {fixed_spec['image_size']} px → Fashion-MNIST, "
            f"L-BFGS logistic regression (C chosen {choice}), full test split:\n\n"
            + markdown_table(fixed_rows(full["fixed_cells"])))


def smoke_markdown(run: dict) -> list[str]:
    """The tiny plans: the one that gated the full run, and any backend whose tiny plan failed first."""
    parts = []
    for backend, failed in run.get("failed_smokes", {}).items():
        reasons = "; ".join(f"{k}: {v}" for k, v in list(failed["failure_reasons"].items())[:3])
        then = f"the full run used the {backend_of(run)} backend" if run["full"] else "no full run started"
        parts.append(f"**Smoke run on {backend} failed** ({failed['wall_s']:.0f} s; {reasons}); {then}.\n")
    if smoke := run.get("smoke"):
        parts.append(f"**Smoke run** (the plan at tiny sizes, {smoke['wall_s']:.0f} s): {len(smoke['finished'])} jobs "
                     f"finished on the GPU, {len(smoke['failed'])} failed or stopped, {len(smoke['not_started'])} not started.\n")
    return parts


def a_markdown(full: dict) -> list[str]:
    a, rows = plan_spec(full, "assembled"), a_rows(full["finished"])
    if rows:
        return [f"(a) vanilla vs assembled ResNet-18 ({a['width']} filters, {a['image_size']} px, {a['epochs']} "
                f"epochs), test top-1 on the full test split, mCE on the corrupted 1,000-image subset:\n\n"
                + markdown_table(rows)]
    if full["epochs"]:
        return ["(a) finished no run. Epoch times of the stopped runs (all jobs sharing the GPU and its cores):\n\n"
                + markdown_table(epoch_rows(full["epochs"], a["epochs"]))]
    return []


def c_markdown(full: dict) -> list[str]:
    parts = [fixed_markdown(full)] if full["fixed_cells"] else []
    if search_lines(full):
        per_class = plan_spec(full, "finetune")["per_class"]
        parts.append(f"(c) LR search ({per_class} per class, validation split):\n\n" + "\n".join(search_lines(full)) + "\n")
    if c_final_rows(full["finished"], full.get("chosen", {})):
        parts.append("(c) finals:\n\n" + markdown_table(c_final_rows(full["finished"], full.get("chosen", {}))))
    return parts


def probe_scaling(probe: dict) -> str:
    """How the step time grows from the smallest to the largest probed batch, per network."""
    timings, small, large = probe["ms_per_step"], min(probe["batch_sizes"]), max(probe["batch_sizes"])
    ratios = {arm: timings[f"{arm}_b{large}"] / timings[f"{arm}_b{small}"] for arm in ("vanilla", "assembled")
              if f"{arm}_b{large}" in timings and f"{arm}_b{small}" in timings}
    if large == small or not ratios:
        return ""
    shown = " and ".join(f"{ratio:.1f}× ({arm})" for arm, ratio in ratios.items())
    fixed_cost = max(ratios.values()) < 0.5 * large / small
    return (f"With {large / small:g}× the batch the step takes {shown} as long"
            + (": most of the step is a fixed per-step cost, not GPU work (inferred from this scaling, not "
               "profiled). " if fixed_cost else ". "))


def probe_markdown(probe: dict, a: dict) -> str:
    rows, minutes = probe_rows(probe, a)
    text = (f"One network alone in one process (random data, after {probe['warmup']} warm-up steps, "
            f"{probe['steps']} timed):\n\n" + markdown_table(rows) + "\n" + probe_scaling(probe))
    if minutes is not None:
        text += (f"At these rates (a)'s {SEEDS} seeds × 2 arms × {a['epochs']} epochs at batch {a['batch_size']} need "
                 f"about {minutes:.0f} min of device time one after another, against the 15 min a session is lent "
                 f"(start-up included).")
    return text + "\n"


def run_markdown(run: dict) -> str:
    full = run["full"]
    if full is None:
        return "\n".join([heading(run), *smoke_markdown(run), "**No full run**: no smoke run passed, or no time was left.\n"])
    complete = [k for k, v in full["finished"].items() if not v.get("partial")]
    parts = [heading(run), *smoke_markdown(run),
             f"**Full run** ({full['wall_s']:.0f} s): {len(complete)} of {len(full['scheduled'])} started jobs finished; "
             f"stopped or failed: {', '.join(full['failed']) or 'none'}; never started: "
             f"{', '.join(full['not_started']) or 'none'}.\n", *a_markdown(full), *c_markdown(full)]
    if "probe" in run:
        parts.append(probe_markdown(run["probe"], plan_spec(full, "assembled")))
    return "\n".join(parts)


def is_complete(run: dict) -> bool:
    """All six (a) runs with their corruption errors, the fixed-feature cells and six (c) finals."""
    finished = {k: v for k, v in (run["full"] or {"finished": {}})["finished"].items() if not v.get("partial")}
    a_done = sum(1 for k, v in finished.items() if k.startswith("a_") and v.get("corruption_errors"))
    c_done = sum(1 for k in finished if "_final_" in k)
    return a_done == 2 * SEEDS and c_done == 2 * SEEDS and "c_fixed" in finished


def section() -> str:
    runs = gpu_runs()
    if not runs:
        return "No GPU was lent to the sessions that ran this suite.\n"
    if any(is_complete(run) for run in runs):
        status = "**Status: done** in at least one GPU session (below); the verdicts above are the CPU runs'.\n"
    else:
        status = ("**Status: not done.** No GPU session has finished (a) and (c) at the larger scale yet; what each "
                  "measured is below, and the verdicts above are the CPU runs' alone.\n")
    return "\n".join([HOW.format(jax_status=jax_status(runs)) + "\n", status] + [run_markdown(run) for run in runs])

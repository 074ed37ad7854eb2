"""Time to accuracy of `make demo`: test top-1 and wall time per recipe tried, on this machine.

    python benchmarks/bench_demo.py                     # every recipe below, seed 0, skipping done ones
    python benchmarks/bench_demo.py --recipes default --seeds 0 1 2
    python benchmarks/bench_demo.py --show              # the table of what is recorded

Each (recipe, seed) runs the whole demo (cached data → train with evaluations → export → export
check → report) in a fresh process, so one recipe's compiled graphs and threads never help
another's time. The children run a copy of the package taken when the sweep starts: editing the
tree during a long sweep must not change (or break, via autograph reading the source) its runs. Results are appended to benchmarks/results/bench_demo.json as each run finishes
(an interrupted sweep resumes where it stopped). The 1-minute load average before and after each run
is recorded: a figure measured while something else ran says so.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assembled_cnn.demo import DemoRecipe  # noqa: E402
from assembled_cnn.utils.machine import cpu_has_amx, cpu_name  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "bench_demo.json"
# Every field of the defaults before the fourth round (v23 became the default): 8 epochs with SK
# units, 4 evaluations. Written out in full, so no later change to DemoRecipe's defaults reaches
# the recipes below (a field added later must be "off" here: old rows take its value from here).
UNTIL_2026_11_29 = DemoRecipe(
    epochs=8.0, image_size=56, stem_stride=2, num_filters=16, batch_size=256, base_learning_rate=0.4,
    weight_decay=1e-4, lr_warmup_epochs=0.5, mixup_type=0, mixup_alpha=0.2, label_smoothing=0.1,
    use_dropblock=True, use_sk_block=True, ema_decay=0.0, eval_flip=True, eval_shift=2, progressive_sizes="",
    progressive_until=0.5, evals=4, seed=0)
# The default before issue 14's second round; `default` rows measured with it were renamed to this.
DEFAULT_2026_11_28 = dataclasses.replace(UNTIL_2026_11_29, batch_size=128, base_learning_rate=0.1, eval_flip=False,
                                         eval_shift=0)
# The default of the second round (flip only); `default` rows measured with it were renamed to this.
DEFAULT_2026_11_29 = dataclasses.replace(UNTIL_2026_11_29, batch_size=256, base_learning_rate=0.4, eval_flip=True,
                                         eval_shift=0)
# The demo as issue 14 measured it (mixup type 1, 8 evaluations); alternatives change one or more
# fields of it. "default" is whatever `make demo` trains now.
BASE = dataclasses.replace(DEFAULT_2026_11_28, mixup_type=1, evals=8)

# Each alternative changes what its name says against BASE.
RECIPES: dict[str, DemoRecipe] = {
    "default": DemoRecipe(),
    "v0_8ep_evals8": BASE,
    "v1_evals1": dataclasses.replace(BASE, evals=1),
    "v2_evals1_ema": dataclasses.replace(BASE, evals=1, ema_decay=0.999),
    "v3_evals1_nodropblock": dataclasses.replace(BASE, evals=1, use_dropblock=False),
    "v4_evals1_10ep": dataclasses.replace(BASE, evals=1, epochs=10.0),
    "v5_evals1_64px": dataclasses.replace(BASE, evals=1, image_size=64),
    "v6_evals1_w20": dataclasses.replace(BASE, evals=1, num_filters=20),
    "v7_evals1_nomixup": dataclasses.replace(BASE, evals=1, mixup_type=0),
    "v8_evals1_nomixup_nodropblock": dataclasses.replace(BASE, evals=1, mixup_type=0, use_dropblock=False),
    "v9_evals1_28px_stem1": dataclasses.replace(BASE, evals=1, image_size=28, stem_stride=1),
    "v10_evals1_32px_stem1": dataclasses.replace(BASE, evals=1, image_size=32, stem_stride=1),
    "v11_evals1_nomixup_ema_64px": dataclasses.replace(BASE, evals=1, mixup_type=0, ema_decay=0.999, image_size=64),
    # From here on the base is the default until 2026-11-29 (no mixup, 4 evaluations, batch 128, LR 0.1),
    # measured on a quiet machine.
    "default_2026-11-28": DEFAULT_2026_11_28,
    "default_2026-11-29": DEFAULT_2026_11_29,
    "v12_flip_ema_wd5e-4": dataclasses.replace(DEFAULT_2026_11_28, eval_flip=True, ema_decay=0.999, weight_decay=5e-4),
    "v13_flip_lr0.2": dataclasses.replace(DEFAULT_2026_11_28, eval_flip=True, base_learning_rate=0.2),
    "v14_flip_lr0.2_prog40": dataclasses.replace(DEFAULT_2026_11_28, eval_flip=True, base_learning_rate=0.2,
                                                 progressive_sizes="40"),
    "v15_flip_b256_lr0.4": dataclasses.replace(DEFAULT_2026_11_28, eval_flip=True, batch_size=256, base_learning_rate=0.4),
    "v16_flip_b256_lr0.4_ema0.998": dataclasses.replace(DEFAULT_2026_11_28, eval_flip=True, batch_size=256,
                                                        base_learning_rate=0.4, ema_decay=0.998),
    # From here on the Selective Kernel unit runs ~6 % faster (same function, commit db28fa4).
    "v17_flip_lr0.2_evals2": dataclasses.replace(DEFAULT_2026_11_28, eval_flip=True, base_learning_rate=0.2, evals=2),
    "v18_flip_b192_lr0.3": dataclasses.replace(DEFAULT_2026_11_28, eval_flip=True, batch_size=192,
                                               base_learning_rate=0.3),
    "v19_flip_b256_lr0.4_noSK_11ep": dataclasses.replace(DEFAULT_2026_11_28, eval_flip=True, batch_size=256,
                                                         base_learning_rate=0.4, use_sk_block=False, epochs=11.0),
    # Shift test-time augmentation (2026-11-29, third round): on (a)'s validation checkpoints, flip + four
    # 2-px shifts scored +0.14 to +0.18 points over flip alone (three models, 5,000 held-out images).
    "v20_flip_shift2": dataclasses.replace(DEFAULT_2026_11_28, eval_flip=True, eval_shift=2, batch_size=256,
                                           base_learning_rate=0.4),
    "v21_flip_shift2_b192_lr0.3": dataclasses.replace(DEFAULT_2026_11_28, eval_flip=True, eval_shift=2,
                                                      batch_size=192, base_learning_rate=0.3),
    # Fourth round (2026-11-29): v19's trade (no SK units, more epochs) with the shift views, evaluating
    # twice instead of four times so the views' time goes to training.
    "v22_noSK_12ep_shift2_evals2": dataclasses.replace(DEFAULT_2026_11_28, eval_flip=True, eval_shift=2, batch_size=256,
                                                       base_learning_rate=0.4, use_sk_block=False, epochs=12.0,
                                                       evals=2),
    # v22 measured 93.48 ± 0.17 % in 8.9-9.2 min: the ~0.8 min left buys one more epoch when the
    # test split is evaluated once, at the end (each evaluation of 6 views costs ~16 s). The default since.
    "v23_noSK_13ep_shift2_evals1": dataclasses.replace(DEFAULT_2026_11_28, eval_flip=True, eval_shift=2, batch_size=256,
                                                       base_learning_rate=0.4, use_sk_block=False, epochs=13.0,
                                                       evals=1),
}


def load_results() -> list[dict]:
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else []


def save_results(rows: list[dict]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(rows, indent=1) + "\n")
    tmp.replace(RESULTS)


def snapshot_package() -> Path:
    """A copy of assembled_cnn/ for the children (their working directory comes first on sys.path)."""
    folder = Path(tempfile.mkdtemp(prefix="bench_demo_code_"))
    shutil.copytree(ROOT / "assembled_cnn", folder / "assembled_cnn", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def code_version() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "assembled_cnn"], cwd=ROOT, capture_output=True, text=True)
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def run_one(name: str, seed: int, data_dir: str, code_dir: Path, keep: bool = False) -> dict:
    """One demo in a child process; returns its measured row."""
    recipe = dataclasses.replace(RECIPES[name], seed=seed)
    work = Path(tempfile.mkdtemp(prefix=f"bench_demo_{name}_"))
    load_before = os.getloadavg()[0]
    started = time.time()
    code = ("import json,sys; from pathlib import Path; from assembled_cnn.demo import DemoRecipe, run_demo; "
            "r = run_demo(Path(sys.argv[1]), sys.argv[2], DemoRecipe(**json.loads(sys.argv[3]))); "
            "print('RESULT ' + json.dumps({k: v for k, v in r.items() if isinstance(v, (int, float))}))")
    proc = subprocess.run([sys.executable, "-c", code, str(work), data_dir, json.dumps(dataclasses.asdict(recipe))],
                          cwd=code_dir, capture_output=True, text=True)
    wall = time.time() - started
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise SystemExit(f"recipe {name} seed {seed} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(lines[-1][len("RESULT "):])
    row = {"recipe": name, "seed": seed, "top1": result["top1"], "loss": result.get("loss"), "wall_s": round(wall, 1),
           "train_s": round(_train_seconds(work / "model", recipe), 1), "load_before": round(load_before, 2),
           "load_after": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(), "cpu": cpu_model(),
           "config": dataclasses.asdict(recipe)}
    if keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return row


def cpu_model() -> str:
    """The CPU's model name, with "with AMX" where it has it: a wall time means little without it."""
    return cpu_name() + (" with AMX" if cpu_has_amx() else "")


def _train_seconds(model_dir: Path, recipe: DemoRecipe) -> float:
    """Seconds spent in training steps, from the images/s the runner logged per interval."""
    rows = [json.loads(line) for line in (model_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    seconds, last_step = 0.0, 0
    for row in rows:
        if row.get("mode") == "train" and row.get("images_per_sec"):
            seconds += (row["step"] - last_step) * recipe.batch_size / row["images_per_sec"]
            last_step = row["step"]
    return seconds


def recorded_recipe(row: dict) -> dict:
    """A row's recipe; fields added to DemoRecipe since it ran take their values of then (off)."""
    return {**dataclasses.asdict(DEFAULT_2026_11_28), **row["config"]}


def table(rows: list[dict]) -> str:
    by_recipe: dict[str, list[dict]] = {}
    for row in rows:
        by_recipe.setdefault(row["recipe"], []).append(row)
    lines = ["| recipe | seeds | test top-1 (mean ± std) | wall min (mean, max) | train min | load | CPU |",
             "|---|---|---|---|---|---|---|"]
    for name, group in by_recipe.items():
        tops = [r["top1"] for r in group]
        walls = [r["wall_s"] / 60 for r in group]
        std = statistics.stdev(tops) if len(tops) > 1 else 0.0
        lines.append(f"| {name} | {len(group)} | {statistics.mean(tops):.2%} ± {std:.2%} | "
                     f"{statistics.mean(walls):.1f}, {max(walls):.1f} | "
                     f"{statistics.mean(r['train_s'] for r in group) / 60:.1f} | "
                     f"{max(r['load_before'] for r in group):.1f} | "
                     f"{', '.join(sorted({r.get('cpu', 'not recorded') for r in group}))} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="*", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    parser.add_argument("--data_dir", default=str(ROOT / "data" / "fashion_mnist"))
    parser.add_argument("--show", action="store_true", help="print the recorded table and exit")
    parser.add_argument("--keep", action="store_true", help="keep each run's folder (to re-evaluate it later)")
    args = parser.parse_args(argv)
    rows = load_results()
    code_dir, version = (snapshot_package(), code_version()) if not args.show else (None, "")
    if not args.show:
        for name in args.recipes:
            for seed in args.seeds:
                wanted = dataclasses.asdict(dataclasses.replace(RECIPES[name], seed=seed))
                if any(r["recipe"] == name and r["seed"] == seed and recorded_recipe(r) == wanted for r in rows):
                    continue
                print(f"running {name} seed {seed} ...", flush=True)
                row = {**run_one(name, seed, args.data_dir, code_dir, args.keep), "code": version}
                rows = [r for r in load_results() if not (r["recipe"] == name and r["seed"] == seed)] + [row]
                save_results(rows)
                print(f"  top-1 {row['top1']:.2%}, {row['wall_s'] / 60:.1f} min (load {row['load_before']})", flush=True)
    print(table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

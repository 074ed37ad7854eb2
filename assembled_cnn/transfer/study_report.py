"""The study's tables (Kornblith et al. Tables/Figure 2 layout) from the per-cell results.

Rows are (model, regime), columns datasets; each cell is mean ± sample standard deviation
(ddof 1; 0 for one seed) over seeds, for the dataset's primary accuracy (in %) and its
log-odds. The best (model, regime) of each dataset by mean accuracy is the winner: bold
in markdown, ``winner=1`` in the CSV, outlined in the PNG.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from assembled_cnn.report.markdown import markdown_table
from assembled_cnn.report.plots import save_figure_atomic
from assembled_cnn.utils.io import write_text_atomic

SUMMARY_FIELDS = ("dataset", "model", "regime", "n_seeds", "accuracy_mean", "accuracy_std",
                  "log_odds_mean", "log_odds_std", "primary_metric", "winner")
CELL_FIELDS = ("dataset", "model", "regime", "seed", "primary_metric", "accuracy", "log_odds",
               "top1", "mean_per_class", "num_test", "seconds")


@dataclass(frozen=True)
class Summary:
    dataset: str
    model: str
    regime: str
    n_seeds: int
    accuracy_mean: float
    accuracy_std: float
    log_odds_mean: float
    log_odds_std: float
    primary_metric: str
    winner: bool = False


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1); the std of a single value is 0."""
    array = np.asarray(values, np.float64)
    if array.size == 0:
        raise ValueError("mean_std of no values")
    return float(array.mean()), float(array.std(ddof=1)) if array.size > 1 else 0.0


def summarize(results: Sequence[dict]) -> list[Summary]:
    """One Summary per (dataset, model, regime), winners marked, in first-seen order."""
    groups: dict[tuple, list[dict]] = {}
    for result in results:
        groups.setdefault((result["dataset"], result["model"], result["regime"]), []).append(result)
    rows = []
    for (dataset, model, regime), members in groups.items():
        acc_mean, acc_std = mean_std([m["accuracy"] for m in members])
        lo_mean, lo_std = mean_std([m["log_odds"] for m in members])
        rows.append(Summary(dataset, model, regime, len(members), acc_mean, acc_std, lo_mean, lo_std,
                            members[0]["primary_metric"]))
    best = {}
    for row in rows:
        if row.dataset not in best or row.accuracy_mean > best[row.dataset].accuracy_mean:
            best[row.dataset] = row
    return [Summary(**{**row.__dict__, "winner": best[row.dataset] is row}) for row in rows]


def _ordered(values, order: Sequence[str] | None) -> list[str]:
    seen = list(dict.fromkeys(values))
    return [v for v in (order or seen) if v in seen] + [v for v in seen if v not in (order or [])]


def pivot_markdown(rows: Sequence[Summary], metric: str, datasets: Sequence[str],
                   models: Sequence[str], regimes: Sequence[str]) -> str:
    """Rows (model, regime) × dataset columns, 'mean ± std'; the dataset's winner in bold."""
    by_key = {(r.dataset, r.model, r.regime): r for r in rows}
    scale, fmt = (100.0, "{:.2f} ± {:.2f}") if metric == "accuracy" else (1.0, "{:.3f} ± {:.3f}")
    table = []
    for model in models:
        for regime in regimes:
            line = {"model": model, "regime": regime}
            for dataset in datasets:
                row = by_key.get((dataset, model, regime))
                if row is None:
                    continue
                text = fmt.format(scale * getattr(row, f"{metric}_mean"), scale * getattr(row, f"{metric}_std"))
                line[dataset] = f"**{text}**" if row.winner else text
            table.append(line)
    return markdown_table(table, ["model", "regime", *datasets])


def cells_csv(results: Sequence[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CELL_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(results)
    return buffer.getvalue()


def summary_csv(rows: Sequence[Summary]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, SUMMARY_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row.__dict__, "winner": int(row.winner)})
    return buffer.getvalue()


def grouped_bars(rows: Sequence[Summary], png_path: str, datasets: Sequence[str],
                 models: Sequence[str], regimes: Sequence[str]) -> str:
    """One panel per dataset: a group of bars per model, one bar per regime, ±std error bars."""
    figure = Figure(figsize=(max(4.0, 3.2 * len(datasets)), 3.6))
    by_key = {(r.dataset, r.model, r.regime): r for r in rows}
    width = 0.8 / max(1, len(regimes))
    for index, dataset in enumerate(datasets, start=1):
        axes = figure.add_subplot(1, len(datasets), index)
        for k, regime in enumerate(regimes):
            found = [(i, by_key[(dataset, m, regime)]) for i, m in enumerate(models) if (dataset, m, regime) in by_key]
            if not found:
                continue
            xs = [i + (k - (len(regimes) - 1) / 2) * width for i, _ in found]
            bars = axes.bar(xs, [100 * r.accuracy_mean for _, r in found], width,
                            yerr=[100 * r.accuracy_std for _, r in found], capsize=3, label=regime)
            for bar, (_, row) in zip(bars, found):
                if row.winner:
                    bar.set_edgecolor("black")
                    bar.set_linewidth(2.0)
        axes.set_xticks(range(len(models)), models, fontsize="small")
        axes.set_title(dataset)
        axes.set_ylabel("accuracy (%)" if index == 1 else "")
        axes.grid(True, axis="y", alpha=0.3)
    figure.axes[0].legend(fontsize="small")
    figure.tight_layout()
    return save_figure_atomic(figure, png_path)


def write_reports(results: Sequence[dict], output_dir: str, dataset_order: Sequence[str] | None = None,
                  model_order: Sequence[str] | None = None, regime_order: Sequence[str] | None = None) -> dict:
    """study.md, study_summary.csv, study_cells.csv and study.png in `output_dir`."""
    rows = summarize(results)
    datasets = _ordered([r.dataset for r in rows], dataset_order)
    models = _ordered([r.model for r in rows], model_order)
    regimes = _ordered([r.regime for r in rows], regime_order)
    seeds = sorted({r.n_seeds for r in rows})
    paths = {"markdown": os.path.join(output_dir, "study.md"), "csv": os.path.join(output_dir, "study_summary.csv"),
             "cells_csv": os.path.join(output_dir, "study_cells.csv"), "png": os.path.join(output_dir, "study.png")}
    text = (f"# Transfer study\n\nMean ± std over {'/'.join(map(str, seeds))} seeds; **bold** = best "
            "(model, regime) per dataset by mean accuracy.\n\n## Accuracy (%, the dataset's primary "
            "metric)\n\n" + pivot_markdown(rows, "accuracy", datasets, models, regimes)
            + "\n## Log-odds of the accuracy\n\n" + pivot_markdown(rows, "log_odds", datasets, models, regimes)
            + "\n![accuracy per dataset](study.png)\n")
    write_text_atomic(paths["markdown"], text)
    write_text_atomic(paths["csv"], summary_csv(rows))
    write_text_atomic(paths["cells_csv"], cells_csv(results))
    grouped_bars(rows, paths["png"], datasets, models, regimes)
    return paths

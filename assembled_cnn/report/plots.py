"""Training curves and bar charts as PNG files of a predictable pixel size (inches × dpi)."""

from __future__ import annotations

import os
import tempfile
from typing import Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from assembled_cnn.report.metrics_log import modes, read_metrics_jsonl, series

DEFAULT_CURVE_KEYS = ("loss", "learning_rate", "top1")
DEFAULT_DPI = 100
PANEL_SIZE = (4.0, 3.0)  # inches per curve panel
BAR_CHART_SIZE = (6.0, 4.0)
_LABELS = {"loss": "loss", "learning_rate": "learning rate", "top1": "top-1 accuracy",
           "top5": "top-5 accuracy"}


def save_figure_atomic(figure: Figure, png_path: str, dpi: int = DEFAULT_DPI) -> str:
    """Render `figure` to a temporary PNG beside `png_path`, then rename it into place."""
    directory = os.path.dirname(os.path.abspath(png_path))
    os.makedirs(directory, exist_ok=True)
    FigureCanvasAgg(figure)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(png_path)}.", suffix=".png", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            figure.savefig(handle, format="png", dpi=dpi)
        os.chmod(tmp, 0o644)
        os.replace(tmp, png_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return png_path


def plot_curves(metrics_jsonl_path: str, png_path: str, keys: Sequence[str] = DEFAULT_CURVE_KEYS,
                title: str | None = None, dpi: int = DEFAULT_DPI) -> str:
    """One panel per key (value vs step), one line per mode (train / eval) that logs that key.

    Keys no record has are left out; the PNG is `len(kept keys) × 4in` wide and 3in high.
    """
    records = read_metrics_jsonl(metrics_jsonl_path)
    present = [(key, [(m, *series(records, key, m)) for m in modes(records)]) for key in keys]
    present = [(key, [line for line in lines if line[1]]) for key, lines in present]
    present = [(key, lines) for key, lines in present if lines]
    if not present:
        raise ValueError(f"{metrics_jsonl_path!r} has no numeric values for any of {list(keys)} "
                         "(each line needs 'step' and the metric)")
    figure = Figure(figsize=(PANEL_SIZE[0] * len(present), PANEL_SIZE[1]))
    for index, (key, lines) in enumerate(present, start=1):
        axes = figure.add_subplot(1, len(present), index)
        for mode, steps, values in lines:
            axes.plot(steps, values, marker="o" if len(steps) < 30 else None, markersize=3,
                      label=mode)
        axes.set_xlabel("step")
        axes.set_ylabel(_LABELS.get(key, key))
        axes.grid(True, alpha=0.3)
        if len(lines) > 1:
            axes.legend(fontsize="small")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return save_figure_atomic(figure, png_path, dpi)


def bar_chart(values: Mapping[str, float], png_path: str, title: str, ylabel: str,
              reference_line: float | None = None, reference_label: str | None = None,
              value_format: str = "{:.1f}", dpi: int = DEFAULT_DPI) -> str:
    """Bars in the order given, each labelled with its value; an optional dashed reference
    line (e.g. the paper's number or the baseline). The PNG is 6in × 4in at `dpi`."""
    if not values:
        raise ValueError(f"bar_chart({png_path!r}) got no values to plot")
    names = [str(name) for name in values]
    heights = [float(v) for v in values.values()]
    figure = Figure(figsize=BAR_CHART_SIZE)
    axes = figure.add_subplot(1, 1, 1)
    bars = axes.bar(range(len(names)), heights, color="#4C72B0")
    axes.bar_label(bars, labels=[value_format.format(h) for h in heights], fontsize="small")
    axes.set_xticks(range(len(names)), names, rotation=30 if len(names) > 4 else 0,
                    ha="right" if len(names) > 4 else "center", fontsize="small")
    if reference_line is not None:
        axes.axhline(reference_line, color="#C44E52", linestyle="--", linewidth=1.2,
                     label=reference_label or f"reference {value_format.format(reference_line)}")
        axes.legend(fontsize="small")
    axes.margins(y=0.1)  # room for the value labels above the tallest bar
    axes.set_title(title)
    axes.set_ylabel(ylabel)
    axes.grid(True, axis="y", alpha=0.3)
    figure.tight_layout()
    return save_figure_atomic(figure, png_path, dpi)

"""Write mCE results as JSON, a markdown table, a PNG bar chart and TensorBoard scalars."""

from __future__ import annotations

import os

from assembled_cnn.utils.io import write_json_atomic


def markdown_table(result: dict, errors: dict | None = None) -> str:
    """One row per corruption: CE (%) and, if ``errors`` is given, the error (%) per severity."""
    severities = result.get("severities", [1, 2, 3, 4, 5])
    lines = ["| corruption | CE (%) | " + " | ".join(f"s{s}" for s in severities) + " |",
             "|---|---|" + "---|" * len(severities)]
    for name, ce in result["ce"].items():
        cells = [f"{100 * e:.2f}" for e in (errors or {}).get(name, [])] or [""] * len(severities)
        lines.append(f"| {name} | {ce:.2f} | " + " | ".join(cells) + " |")
    if result.get("clean_error") is not None:
        lines.append(f"| clean error | {100 * result['clean_error']:.2f} | " + "| " * len(severities))
    for key in ("mce", "mce_all", "relative_mce"):
        if key in result:
            lines.append(f"| **{key}** | **{result[key]:.2f}** | " + "| " * len(severities))
    return "\n".join(lines) + "\n"


def plot_ce(result: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["ce"])
    figure, axis = plt.subplots(figsize=(max(6, 0.5 * len(names)), 4))
    axis.bar(range(len(names)), [result["ce"][n] for n in names], color="tab:blue")
    axis.axhline(100, color="gray", linestyle="--", label="AlexNet")
    axis.set_xticks(range(len(names)), names, rotation=60, ha="right")
    axis.set_ylabel("CE (%)")
    title = f"mCE {result['mce']:.1f} %" if "mce" in result else f"mean CE {result['mce_all']:.1f} %"
    axis.set_title(title)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def write_tensorboard(result: dict, log_dir: str, step: int = 0) -> bool:
    """Scalars under ``robustness/``; returns False (and writes nothing) without tensorboard."""
    import importlib.util

    import tensorflow as tf

    if importlib.util.find_spec("tensorboard") is None:
        return False

    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        for key in ("mce", "mce_all", "relative_mce"):
            if key in result:
                tf.summary.scalar(f"robustness/{key}", result[key], step=step)
        for name, value in result["ce"].items():
            tf.summary.scalar(f"robustness/ce/{name}", value, step=step)
    writer.flush()
    return True


def write_all(result: dict, output_dir: str, errors: dict | None = None, step: int = 0) -> None:
    os.makedirs(output_dir, exist_ok=True)
    write_json_atomic(os.path.join(output_dir, "mce.json"), {"result": result, "errors": errors or {}})
    with open(os.path.join(output_dir, "mce.md"), "w") as handle:
        handle.write(markdown_table(result, errors))
    plot_ce(result, os.path.join(output_dir, "ce.png"))
    write_tensorboard(result, os.path.join(output_dir, "tensorboard"), step)

"""Reading the trainer's ``metrics.jsonl``: one JSON object per line, e.g.
``{"step": 100, "mode": "train", "loss": 2.3, "learning_rate": 0.1}`` or
``{"step": 500, "mode": "eval", "top1": 0.41, "top5": 0.7}``.
"""

from __future__ import annotations

import json
import math
import os

from assembled_cnn.errors import UserError


class MetricsLogError(UserError):
    """A metrics.jsonl line is malformed; the message names the file and the line."""


def read_metrics_jsonl(path: str) -> list[dict]:
    """All records of `path`, in file order.

    A malformed *last* line is skipped: it is what a run killed mid-write leaves behind, and a
    report on the finished part is still useful. A malformed line elsewhere is an error.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"metrics log {path!r} not found (the trainer writes "
                                "metrics.jsonl into its model_dir)")
    with open(path, encoding="utf-8") as handle:
        lines = [(number, line) for number, line in enumerate(handle, start=1) if line.strip()]
    records = []
    for position, (number, line) in enumerate(lines):
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except ValueError as error:
            if position == len(lines) - 1:
                break
            raise MetricsLogError(f"{path}:{number}: {error}") from None
        records.append(record)
    return records


def series(records: list[dict], key: str, mode: str | None) -> tuple[list[float], list[float]]:
    """(steps, values) of `key` in the records of `mode` (None: any mode), finite values only."""
    steps, values = [], []
    for record in records:
        if mode is not None and record.get("mode", "train") != mode:
            continue
        value, step = record.get(key), record.get("step")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or step is None:
            continue
        if math.isfinite(value):
            steps.append(float(step))
            values.append(float(value))
    return steps, values


def modes(records: list[dict]) -> list[str]:
    """The modes present, train first, then eval, then any other in order of appearance."""
    seen = []
    for record in records:
        mode = record.get("mode", "train")
        if mode not in seen:
            seen.append(mode)
    order = {"train": 0, "eval": 1}
    return sorted(seen, key=lambda m: (order.get(m, 2), seen.index(m)))

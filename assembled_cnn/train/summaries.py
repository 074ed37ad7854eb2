"""Where results go: TensorBoard (train/ and eval/ under model_dir), metrics.jsonl, console."""

from __future__ import annotations

import json
import os

import tensorflow as tf

from assembled_cnn.utils.io import write_text_atomic

METRICS_FILE = "metrics.jsonl"
EVAL_RESULTS_FILE = "eval_results.json"  # the last evaluation, with its checkpoint
WARM_START_FILE = "warm_start.json"      # what a warm start restored and what it did not
SUMMARY_DIRS = ("train", "eval")         # TensorBoard event files per mode


class RunLog:
    """Writes scalars to TensorBoard and one JSON line per event to model_dir/metrics.jsonl."""

    def __init__(self, model_dir: str, enabled: bool = True):
        self.enabled = enabled
        self.model_dir = model_dir
        self._writers: dict[str, tf.summary.SummaryWriter] = {}

    def _writer(self, mode: str):
        if mode not in self._writers:
            self._writers[mode] = tf.summary.create_file_writer(os.path.join(self.model_dir, mode))
        return self._writers[mode]

    def write(self, mode: str, step: int, values: dict) -> None:
        if not self.enabled:
            return
        scalars = {k: float(v) for k, v in values.items() if isinstance(v, (int, float)) and k != "step"}
        with self._writer(mode).as_default(step=step):
            for key, value in scalars.items():
                tf.summary.scalar(key, value)
        self._writer(mode).flush()
        with open(os.path.join(self.model_dir, METRICS_FILE), "a") as handle:
            handle.write(json.dumps({"step": int(step), "mode": mode, **scalars}) + "\n")

    def rewind(self, step: int) -> int:
        """Drop metrics.jsonl lines past `step` (and a line cut by a kill) before a resumed run
        logs those steps again: the file never holds a step twice. Returns the lines dropped."""
        path = os.path.join(self.model_dir, METRICS_FILE)
        if not self.enabled or not os.path.exists(path):
            return 0
        with open(path) as handle:
            lines = handle.read().split("\n")
        kept = [line for line in lines if _parses(line) and json.loads(line)["step"] <= step]
        dropped = sum(1 for line in lines if line.strip()) - len(kept)
        if dropped:
            write_text_atomic(path, "".join(line + "\n" for line in kept))
        return dropped

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()


def read_metrics(model_dir: str, mode: str | None = None) -> list[dict]:
    path = os.path.join(model_dir, METRICS_FILE)
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return [r for r in rows if mode is None or r.get("mode") == mode]


def _parses(line: str) -> bool:
    try:
        row = json.loads(line)
    except ValueError:
        return False
    return isinstance(row, dict) and "step" in row

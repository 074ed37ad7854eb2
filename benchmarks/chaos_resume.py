"""Repeated SIGKILLs of one deterministic training run: does every restart resume exactly?

    python benchmarks/chaos_resume.py [--kills 20] [--epochs 16] [--seed 0] [--out FILE.json]

A reference run trains uninterrupted. The chaos run is started, killed with SIGKILL at a random
moment of a chosen kind, restarted with the same command, and so on `--kills` times, then left to
finish. The kinds cycle in a seeded random order:
  step        a random moment between steps (0-0.4 s after a new checkpoint appeared)
  checkpoint  while a checkpoint is being written (its ckpt-N_temp folder exists)
  evaluation  while the validation set is evaluated (the "eval" progress bar has started)
Every kill waits until the run has saved a checkpoint past the one it resumed from, so the run
always progresses. After each kill every listed checkpoint and best/ entry must load and
metrics.jsonl must parse; at the end the final checkpoint must equal the reference bit for bit,
metrics.jsonl must hold each (mode, step) once, and best/ must equal the reference's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "train"))
KINDS = ("step", "checkpoint", "evaluation")


def train_argv(data_dir: Path, model_dir: Path, epochs: float) -> list[str]:
    return [sys.executable, str(REPO / "main_classification.py"), "--dataset_name=toy", f"--data_dir={data_dir}",
            f"--model_dir={model_dir}", "--model=resnet18", "--num_filters=8", "--bn_momentum=0.8",
            "--preprocessing_type=cifar", "--batch_size=32", f"--train_epochs={epochs}", "--base_learning_rate=0.05",
            "--learning_rate_decay_type=cosine", "--weight_decay=1e-4", "--mode=train_and_eval",
            "--epochs_between_evals=1", "--save_checkpoints_steps=2", "--keep_checkpoint_max=4",
            "--num_best_ckpt_to_keep=2", "--log_every_n_steps=1", "--deterministic", "--seed=7"]


def child_env() -> dict:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}


def latest_step(model_dir: Path) -> int:
    import tensorflow as tf

    path = tf.train.latest_checkpoint(str(model_dir))
    return int(path.rsplit("-", 1)[1]) if path else 0


class Run:
    """One training process; `trigger(kind)` returns once the moment for that kind has come."""

    def __init__(self, argv: list[str], model_dir: Path):
        self.model_dir = model_dir
        self.resumed_from = latest_step(model_dir) if model_dir.exists() else 0
        self.process = subprocess.Popen(argv, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.evaluating = threading.Event()
        threading.Thread(target=self._watch_stderr, daemon=True).start()

    def _watch_stderr(self):
        tail = b""
        for raw in iter(lambda: self.process.stderr.read(64), b""):
            if b"eval:" in tail + raw:  # the evaluation's progress bar ("eval: 0batch ...") has started
                self.evaluating.set()
            tail = raw[-8:]

    def _progressed(self) -> bool:
        return latest_step(self.model_dir) > self.resumed_from

    def trigger(self, kind: str, rng: random.Random, timeout: float = 300.0) -> bool:
        deadline = time.time() + timeout
        while not self._progressed():
            if self.process.poll() is not None or time.time() > deadline:
                return False
            time.sleep(0.002)
        self.evaluating.clear()
        if kind == "step":
            time.sleep(rng.uniform(0.0, 0.4))
            return self.process.poll() is None
        while self.process.poll() is None and time.time() < deadline:
            if kind == "checkpoint" and any(self.model_dir.glob("ckpt-*_temp*")):
                return True
            if kind == "evaluation" and self.evaluating.is_set():
                return True
            time.sleep(0.001)
        return False

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def check_loadable(model_dir: Path) -> list[str]:
    """Every checkpoint the state file or best/ lists must load; metrics.jsonl lines must parse."""
    import tensorflow as tf

    problems = []
    state = tf.train.get_checkpoint_state(str(model_dir))
    paths = list(state.all_model_checkpoint_paths) if state else []
    best_index = model_dir / "best" / "best_checkpoints.json"
    if best_index.exists():
        paths += [str(model_dir / "best" / e["checkpoint"]) for e in json.loads(best_index.read_text())]
    for path in paths:
        try:
            reader = tf.train.load_checkpoint(path)
            for name in reader.get_variable_to_shape_map():
                reader.get_tensor(name)
        except Exception as error:  # noqa: BLE001 - any failure to read is the finding
            problems.append(f"{path}: {type(error).__name__}")
    return problems


def read_variables(path: str) -> dict:
    import tensorflow as tf

    reader = tf.train.load_checkpoint(path)
    return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map() if not n.startswith("save_counter")}


def final_checks(reference: Path, chaos: Path) -> dict:
    import tensorflow as tf

    ref_vars = read_variables(tf.train.latest_checkpoint(str(reference)))
    chaos_vars = read_variables(tf.train.latest_checkpoint(str(chaos)))
    differing = [n for n in ref_vars if n not in chaos_vars or not np.array_equal(ref_vars[n], chaos_vars[n])]
    lines = (chaos / "metrics.jsonl").read_text().splitlines()
    keys = [(json.loads(line)["mode"], json.loads(line)["step"]) for line in lines]
    ref_keys = [(json.loads(line)["mode"], json.loads(line)["step"])
                for line in (reference / "metrics.jsonl").read_text().splitlines()]
    best = json.loads((chaos / "best" / "best_checkpoints.json").read_text())
    ref_best = json.loads((reference / "best" / "best_checkpoints.json").read_text())
    listed = {e["checkpoint"] for e in best}
    stray = sorted(p.name for p in (chaos / "best").iterdir()
                   if p.name != "best_checkpoints.json" and p.name.split(".", 1)[0] not in listed)
    return {"final_step": latest_step(chaos), "variables": len(ref_vars), "variables_differing": differing,
            "metrics_lines": len(keys), "metrics_duplicates": len(keys) - len(set(keys)),
            "metrics_same_keys_as_reference": sorted(keys) == sorted(ref_keys),
            "best_equal_to_reference": best == ref_best, "best_stray_files": stray,
            "unloadable": check_loadable(chaos)}


def run_chaos(work: Path, kills: int, epochs: float, seed: int, log=print) -> dict:
    from trainlib import write_toy_dataset

    data = write_toy_dataset(work / "data")
    reference, chaos = work / "reference", work / "chaos"
    started = time.time()
    done = subprocess.run(train_argv(data, reference, epochs), env=child_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the reference run failed: {done.stderr[-3000:]}")
    reference_seconds = time.time() - started
    rng = random.Random(seed)
    order = [KINDS[i % len(KINDS)] for i in range(kills)]
    rng.shuffle(order)
    records, started = [], time.time()
    for number, kind in enumerate(order, 1):
        run = Run(train_argv(data, chaos, epochs), chaos)
        hit = run.trigger(kind, rng)
        run.kill() if run.process.poll() is None else run.process.wait()
        record = {"kill": number, "kind": kind, "hit": hit, "resumed_from": run.resumed_from,
                  "latest_after": latest_step(chaos), "unloadable": check_loadable(chaos)}
        records.append(record)
        log(f"kill {number:2d}/{kills} {kind:10s} hit={hit} resumed from step {record['resumed_from']:3d}, "
            f"latest checkpoint after the kill: {record['latest_after']:3d}")
    final = subprocess.run(train_argv(data, chaos, epochs), env=child_env(), capture_output=True, text=True)
    if final.returncode != 0:
        raise RuntimeError(f"the last restart failed: {final.stderr[-2000:]}")
    return {"kills": records, "reference_seconds": round(reference_seconds, 1),
            "chaos_seconds": round(time.time() - started, 1), "epochs": epochs,
            "checks": final_checks(reference, chaos)}


def passed(result: dict) -> bool:
    c = result["checks"]
    return (not c["variables_differing"] and c["metrics_duplicates"] == 0 and c["metrics_same_keys_as_reference"]
            and c["best_equal_to_reference"] and not c["best_stray_files"] and not c["unloadable"]
            and not any(k["unloadable"] for k in result["kills"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--epochs", type=float, default=16, help="8 steps an epoch")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work_dir", default=None, help="default: a new temporary folder")
    parser.add_argument("--out", default=None, help="write the result JSON here")
    args = parser.parse_args()
    import tempfile

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="chaos_resume_"))
    result = run_chaos(work, args.kills, args.epochs, args.seed)
    hits = {k: sum(r["hit"] for r in result["kills"] if r["kind"] == k) for k in KINDS}
    print(json.dumps(result["checks"], indent=1))
    print(f"{args.kills} kills (hit as intended: {hits}); reference {result['reference_seconds']} s, "
          f"chaos run {result['chaos_seconds']} s; {'PASS' if passed(result) else 'FAIL'}")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0 if passed(result) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Turn what one GPU session brought back (the device tool's output folders) into the committed
result JSON that `section_gpu.py` puts on docs/results.md; the raw files are kept beside it.

    python scripts/results/gpu/collect_device_run.py --name h200_2026-11-29 \
        --full /work/.device/1 --smoke /work/.device/1/tiny --probe /work/.device/2

Everything is read from those files: results of finished jobs from gpu_results.json, and from the
jobs' logs the lines they print as they go (per-epoch times; fixed-feature cells), so that a job
stopped at the time budget still reports what it measured.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
OUT = REPO / "docs" / "results" / "data" / "gpu"
EPOCH = re.compile(r"^\[(?P<job>\S+) [\d:]+\] epoch (?P<epoch>\d+): loss (?P<loss>[\d.]+), (?P<seconds>[\d.]+) s$")
FIXED = re.compile(r"^\[(?P<job>\S+) [\d:]+\] (?P<n>\d+)/class seed (?P<seed>\d+): (?P<top1>[\d.]+) \(C (?P<C>[^)]+)\)$")


def log_lines(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines() if path.is_file() else []


def parse_log(lines: list[str]) -> dict:
    epochs: dict[str, list[dict]] = {}
    fixed = []
    for line in lines:
        if match := EPOCH.match(line):
            epochs.setdefault(match["job"], []).append(
                {"epoch": int(match["epoch"]), "loss": float(match["loss"]), "seconds": float(match["seconds"])})
        elif match := FIXED.match(line):
            fixed.append({"job": match["job"], "per_class": int(match["n"]), "seed": int(match["seed"]),
                          "test_top1": float(match["top1"]), "probe_C": float(match["C"])})
    return {"epochs": epochs, "fixed_cells": fixed}


def failure_reason(reason: str) -> str:
    """One line: a job that exited keeps its log's last line (the exception), not its first."""
    lines = [line.strip() for line in reason.splitlines() if line.strip()]
    if reason.startswith("exit ") and len(lines) > 1:
        return f"{lines[0].split(':')[0]}: {lines[-1]}"[:200]
    return lines[0][:200] if lines else ""


def summarize_run(folder: Path) -> dict:
    results = json.loads((folder / "gpu_results.json").read_text())
    finished = {k: v for k, v in results.items() if not k.startswith("_")}
    return {"machine": results["_machine"], "wall_s": results["_wall_s"], "tiny": results["_tiny"],
            "scheduled": results["_scheduled"], "failed": sorted(results["_failed"]),
            "failure_reasons": {k: failure_reason(v) for k, v in results["_failed"].items()},
            "not_started": results.get("_not_started", []), "finished": finished, "plan": results.get("_plan", []),
            "chosen": results.get("_chosen", {}),
            **parse_log(log_lines(folder / "gpu_jobs.log"))}


def nvidia_smi(folder: Path) -> str:
    for line in [line for path in sorted(folder.glob("console*.txt")) for line in log_lines(path)]:
        if line.startswith("NVIDIA"):
            return line.strip()
    return ""


def collect(name: str, full: Path, smoke: Path | None, probe: Path | None) -> dict:
    """`full` is the device command's output folder; it lacks gpu_results.json when no full run
    started (every smoke failed, or no time was left), and the smokes are still recorded."""
    ran = (full / "gpu_results.json").is_file()
    payload = {"name": name, "nvidia_smi": nvidia_smi(full), "full": summarize_run(full) if ran else None}
    if smoke is not None:
        payload["smoke"] = summarize_run(smoke)
    failed_smokes = {p.name.removeprefix("tiny_"): summarize_run(p) for p in sorted(full.glob("tiny_*"))
                     if (p / "gpu_results.json").is_file()}   # device_run.sh's backend fallback kept them
    if failed_smokes:
        payload["failed_smokes"] = failed_smokes
    if probe is not None and (probe / "probe.json").is_file():
        payload["probe"] = json.loads((probe / "probe.json").read_text())
    return payload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--full", required=True, type=Path)
    parser.add_argument("--smoke", type=Path)
    parser.add_argument("--probe", type=Path)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    payload = collect(args.name, args.full, args.smoke, args.probe)
    raw = args.out / "raw" / args.name
    raw.mkdir(parents=True, exist_ok=True)
    failed_smokes = [(f"smoke_{p.name.removeprefix('tiny_')}", p) for p in sorted(args.full.glob("tiny_*"))]
    for label, folder in (("full", args.full), ("smoke", args.smoke), ("probe", args.probe), *failed_smokes):
        for path in sorted(folder.glob("*")) if folder else []:
            if path.is_file():
                shutil.copyfile(path, raw / f"{label}_{path.name}")
    target = args.out / f"{args.name}.json"
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    tmp.replace(target)
    print(f"wrote {target} (raw files in {raw})")


if __name__ == "__main__":
    main()

"""(a) and (c) of docs/results.md at a larger scale, on one GPU, in one time-boxed command.

    scripts/results/gpu/gpu_results.sh                  # on the GPU machine (device tool)
    python3 scripts/results/gpu/run_gpu_results.py --tiny --out DIR   # the same plan, tiny, on a CPU

Plan (every job a process of its own, up to --parallel at once, highest priority first):
- the corrupted test subset: 1,000 test images × 15 corruptions × 5 severities (imagecorruptions);
- (a) vanilla vs assembled ResNet-18 at full width (64 filters; the CPU runs use 16), 56 px,
  8 epochs, batch 128, LR 0.2 (chosen by the CPU runs' validation search for both arms; not searched
  again here), seeds 0, 1, 2: test top-1 on all 10,000 test images, errors on the corrupted subset;
- (c) EfficientNet-Lite0 at 224 px (CPU: 128 px): fixed features at 10/100/1000 per class;
  fine-tune and random init at 1000 per class (the CPU runs stop at 100), each regime's LR chosen
  on validation from its own 3-point grid, then seeds 0, 1, 2.
Results go to OUT/gpu_results.json after every finished job (so a time-out keeps what finished),
the jobs' logs to OUT/gpu_jobs.log; `collect_device_run.py` stores them for the page's GPU section.
KERAS_BACKEND picks the trainer (backends.py): jax (default of gpu_results.sh, one compiled step)
or torch (eager; what the first H200 session ran, and too slow for (a) in its 15 minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEEDS = (0, 1, 2)
# Three LR points per regime at weight decay 4e-5, the same number for both (the CPU study searches 4 LRs x 2
# weight decays, exp_transfer.LR_GRID / WD_GRID: too many runs for a 15-minute lease)
CORRUPTED = "corrupted_subset"   # gpu_jobs.CORRUPTED: the corrupt job's .npy / .failed marker
LR_GRID = {"finetune": (0.003, 0.01, 0.03), "random": (0.03, 0.1, 0.3)}


def plan(tiny: bool) -> tuple[list[dict], dict]:
    """The first jobs, and the (c) recipe that the finals take once their search has finished."""
    a = dict(width=4, epochs=1, batch_size=16, limit=64) if tiny else dict(width=64, epochs=8, batch_size=128)
    c = dict(per_class=2, epochs=1, batch_size=8, image_size=32, limit=400) if tiny else dict(
        per_class=1000, epochs=4, batch_size=64, image_size=224)
    jobs = [{"kind": "corrupt", "name": "corrupt", "count": 4 if tiny else 1000, "image_size": 56,
             "workers": 2 if tiny else 5}]
    jobs += [{"kind": "assembled", "name": f"a_{arm}_s{seed}", "arm": arm, "seed": seed, "lr": 0.2, "image_size": 56,
              **a} for arm in ("vanilla", "assembled") for seed in SEEDS]
    jobs.append({"kind": "fixed", "name": "c_fixed", "c_choice": "validation split", "seeds": list(SEEDS),
                 "sizes": [2, 4] if tiny else [10, 100, 1000],
                 "image_size": c["image_size"], **({"limit": c["limit"]} if tiny else {})})
    for regime, grid in LR_GRID.items():
        jobs += [{"kind": regime, "name": f"c_{regime}_search_lr{lr}", "phase": "search", "seed": 0, "lr": lr,
                  "weight_decay": 4e-5, **c} for lr in grid]
    return jobs, c


def finals(results: dict, c: dict) -> list[dict]:
    """Each regime's finals once every point of its search has ended: the best validation top-1
    among the points that finished (ties: the smaller LR); none if all of them failed."""
    jobs = []
    for regime, grid in LR_GRID.items():
        names = [f"c_{regime}_search_lr{lr}" for lr in grid]
        if regime in results["_finals_queued"] or any(n not in results and n not in results["_failed"] for n in names):
            continue
        results["_finals_queued"].append(regime)
        search = [results[n] for n in names if n in results]
        if not search:
            results["_chosen"][regime] = "none: every search run failed"
            continue
        best = max(search, key=lambda s: (s["top1"], -s["lr"]))["lr"]
        results["_chosen"][regime] = best
        jobs += [{"kind": regime, "name": f"c_{regime}_final_s{seed}", "phase": "final", "seed": seed, "lr": best,
                  "weight_decay": 4e-5, **c} for seed in SEEDS]
    return jobs


def machine() -> dict:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    versions = {}
    for package in ("keras", "jax"):
        try:
            versions[package] = __import__(package).__version__
        except ImportError:
            versions[package] = "missing"
    return {"gpu": gpu, "cpu_cores": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
            **versions, "keras_backend": os.environ.get("KERAS_BACKEND", "jax")}


class Scheduler:
    def __init__(self, args):
        self.args, self.work, self.out = args, Path(args.work), Path(args.out)
        self.work.mkdir(parents=True, exist_ok=True)
        self.out.mkdir(parents=True, exist_ok=True)
        for stale in [*self.work.glob("*.json"), *self.work.glob("*.log"), *self.work.glob(f"{CORRUPTED}*")]:
            stale.unlink()   # an earlier run's files in this scratch folder (e.g. its .failed marker)
        self.queue, self.c_recipe = plan(args.tiny)
        self.plan = [dict(spec) for spec in self.queue]
        self.running: dict[str, tuple[subprocess.Popen, float]] = {}
        self.results: dict = {"_scheduled": [], "_finals_queued": [], "_chosen": {}, "_failed": {}, "_machine": machine(), "_tiny": args.tiny}
        self.start = time.perf_counter()

    def launch(self, spec: dict) -> None:
        log = open(self.work / f"{spec['name']}.log", "w")
        command = [sys.executable, str(HERE / "gpu_jobs.py"), "--spec", json.dumps(spec), "--work", str(self.work),
                   "--carry", self.args.carry]
        self.running[spec["name"]] = (subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), time.perf_counter())
        self.results["_scheduled"].append(spec["name"])
        print(f"[gpu {self.elapsed():5.0f} s] start {spec['name']}", flush=True)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def reap(self) -> None:
        for name, (process, started) in list(self.running.items()):
            if process.poll() is None:
                continue
            del self.running[name]
            path = self.work / f"{name}.json"
            if process.returncode == 0 and path.exists():
                self.results[name] = {**json.loads(path.read_text()), "wall_s": time.perf_counter() - started}
            else:
                tail = (self.work / f"{name}.log").read_text(errors="replace")[-1500:]
                self.results["_failed"][name] = f"exit {process.returncode}: {tail}"
                if name == "corrupt":   # the (a) jobs waiting for its subset stop waiting
                    (self.work / f"{CORRUPTED}.failed").touch()
            print(f"[gpu {self.elapsed():5.0f} s] done {name} (exit {process.returncode})", flush=True)
            self.queue += finals(self.results, self.c_recipe)
            self.save()

    def save(self) -> None:
        self.results["_wall_s"] = self.elapsed()
        self.results["_plan"] = self.plan
        tmp = self.out / "gpu_results.json.tmp"
        tmp.write_text(json.dumps(self.results, indent=1))
        tmp.replace(self.out / "gpu_results.json")

    def run(self) -> None:
        deadline = self.args.budget_s
        while (self.queue or self.running) and self.elapsed() < deadline:
            while self.queue and len(self.running) < self.args.parallel and self.elapsed() < deadline - 30:
                self.launch(self.queue.pop(0))
            time.sleep(0.5)
            self.reap()
        self.reap()   # jobs that ended during the last wait are results, not time-outs
        for name, (process, _) in self.running.items():
            process.kill()
            process.wait()
            self.results["_failed"][name] = f"stopped at the {deadline:.0f} s budget"
            partial = self.work / f"{name}.json"
            if partial.exists():   # what the job stored before the box (e.g. (a)'s test top-1)
                self.results[name] = {**json.loads(partial.read_text()), "partial": True}
        self.results["_not_started"] = [spec["name"] for spec in self.queue]
        self.save()
        logs = [f"===== {p.stem}\n{p.read_text(errors='replace')}" for p in sorted(self.work.glob("*.log"))]
        (self.out / "gpu_jobs.log").write_text("\n".join(logs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.environ.get("OUT", "runs/gpu_results"))
    parser.add_argument("--work", default="/tmp/gpu_results_work")
    parser.add_argument("--carry", default=".gpu_carry", help="folder with the idx .gz files and the Lite0 .pth")
    parser.add_argument("--budget_s", type=float, default=480)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--tiny", action="store_true")
    args = parser.parse_args()
    args.carry = str(Path(args.carry).resolve())
    Scheduler(args).run()


if __name__ == "__main__":
    main()

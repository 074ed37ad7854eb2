"""A prepared, time-boxed check of the toolkit on one GPU (`benchmarks/gpu_check.sh` calls it).

    python benchmarks/gpu_check.py [--out DIR] [--budget_s 470] [--parts tests,models,input,corruptions,demo]
    python benchmarks/gpu_check.py --tiny       # the same code on the CPU at tiny sizes (tests use it)

Parts, each in its own process with its own time box (and all within --budget_s):
  (a) tests        the gpu-marked tests (tests/train/test_gpu.py): fp16 + dynamic loss scaling,
                   bf16, XLA step == plain step, MirroredStrategy + sync BN == one device, export/reload;
  (b) models       train and inference img/s of keras.applications.ResNet50, our resnet50 and
                   assemble_resnet50 at 224 px, batch 256, under the faster of fp16/bf16 (measured on
                   our resnet50 first), each of ours with the plain conv and with the CPU-tuned paths;
  (c) input        Inception crop + AutoAugment on all CPU cores, img/s, against (b)'s train img/s;
  (d) corruptions  the 15 x 5 corruptions batched on the device vs imagecorruptions on all cores;
  (e) demo         assembled_cnn.demo (--demo_epochs, default 2): wall time and test top-1.
Results: gpu_check.json, gpu_check.md and gpu_check.log in --out ($OUT if set, else
benchmarks/results/gpu_check); the markdown table is also printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from gpu_check_parts import Sizes  # noqa: E402

PARTS = ("tests", "models", "input", "corruptions", "demo")
# Seconds each part may take on a GPU machine (tiny mode: TINY_BOXES), in this order of priority;
# no part starts after --budget_s (each gets at most what is left of it).
BOXES = {"tests": 180, "models": 170, "input": 45, "corruptions": 110, "demo": 150}
TINY_BOXES = {"tests": 240, "models": 240, "input": 240, "corruptions": 240, "demo": 240}
BUDGET_S, TINY_BUDGET_S, RESERVE_S = 470, 600, 5


def run_part(name: str, sizes: Sizes, demo_data_dir: str) -> dict:
    import gpu_check_parts as parts

    if name == "demo":
        return parts.part_demo(sizes, demo_data_dir)
    return getattr(parts, f"part_{name}")(sizes)


class PartProcess:
    """One part in a child process, with its time box; `result()` waits and reads its JSON."""

    def __init__(self, name: str, args, timeout: float):
        self.name, self.timeout, self.start = name, timeout, time.perf_counter()
        self.result_path = Path(args.out) / f".{name}.json"
        self.log_path = Path(args.out) / f".{name}.log"
        command = [sys.executable, str(Path(__file__).resolve()), "--run_part", name, "--part_json",
                   str(self.result_path), "--demo_data_dir", args.demo_data_dir] + (["--tiny"] if args.tiny else [])
        if args.demo_epochs:
            command += ["--demo_epochs", str(args.demo_epochs)]
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def result(self, log) -> dict:
        try:
            code = self.process.wait(timeout=max(1.0, self.timeout - (time.perf_counter() - self.start)))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            code = None
        seconds = time.perf_counter() - self.start
        log.write(f"\n===== {self.name} (time box {self.timeout:.0f} s, {seconds:.0f} s)\n")
        log.write(self.log_path.read_text(errors="replace"))
        self.log_path.unlink()
        if code is None:
            return {"status": f"timed out after {self.timeout:.0f} s", "seconds": seconds}
        if code != 0 or not self.result_path.exists():
            return {"status": f"failed (exit {code}, see gpu_check.log)", "seconds": seconds}
        result = json.loads(self.result_path.read_text())
        self.result_path.unlink()
        status = f"failed (pytest exit {result['returncode']})" if result.get("returncode") else "ok"
        return {"status": status, "seconds": seconds, **result}


def run_parts(args, budget: float) -> dict:
    """The selected parts, --jobs at a time (1 on a GPU: parts would share the device)."""
    boxes, start, results, running = TINY_BOXES if args.tiny else BOXES, time.perf_counter(), {}, []
    with open(Path(args.out) / "gpu_check.log", "w") as log:
        for name in PARTS:
            if name not in args.parts.split(","):
                results[name] = {"status": "not run (--parts)"}
                continue
            while len(running) >= args.jobs:
                done = running.pop(0)
                results[done.name] = report(done, log)
            left = budget - (time.perf_counter() - start) - RESERVE_S
            if left < 10:
                results[name] = {"status": "not run: time budget spent"}
            else:
                running.append(PartProcess(name, args, min(boxes[name], left)))
        for done in running:
            results[done.name] = report(done, log)
    return {name: results[name] for name in PARTS}


def report(part: PartProcess, log) -> dict:
    result = part.result(log)
    print(f"{part.name}: {result['status']} ({result['seconds']:.0f} s)", flush=True)
    return result


def gpu_names() -> list[str]:
    """From nvidia-smi (importing TF here would cost the child processes' time)."""
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.split(":", 1)[1].split("(UUID")[0].strip() for line in listing.splitlines() if ":" in line]


def machine() -> dict:
    from importlib.metadata import version

    return {"gpus": gpu_names(), "cpu_cores": os.cpu_count(), "processor": platform.processor() or platform.machine(),
            "tensorflow": version("tensorflow"), "python": platform.python_version()}


def fmt(value, spec=".1f") -> str:
    return "-" if value is None else format(value, spec)


def table_tests(part: dict) -> list[str]:
    lines = [f"(a) gpu-marked tests{' (forced on the CPU)' if part.get('forced_on_cpu') else ''}: {part['status']}",
             "", "| test | outcome | s |", "|---|---|---:|"]
    lines += [f"| {t['test']} | {t['outcome']} | {t['seconds']:.1f} |" for t in part.get("tests", [])]
    return lines


def table_models(part: dict) -> list[str]:
    if part["status"] != "ok":
        return [f"(b) models: {part['status']}"]
    probe = ", ".join(f"{p} {v:.1f}" for p, v in part["policy_probe"].items())
    lines = [f"(b) models, {part['image_size']} px, batch {part['batch']}, policy {part['policy']} "
             f"(our resnet50 train img/s: {probe})", "",
             "| model | conv paths | train img/s | inference img/s | train vs keras | inference vs keras |",
             "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r['model']} | {r['conv_paths']} | {r['train_img_s']:.1f} | {r['infer_img_s']:.1f} | "
              f"{r['train_vs_keras']:.2f}x | {r['infer_vs_keras']:.2f}x |" for r in part["rows"]]
    return lines


def best_train(models: dict, name: str) -> float | None:
    rows = [r["train_img_s"] for r in models.get("rows", []) if r["model"] == name]
    return max(rows) if rows else None


def table_rest(results: dict) -> list[str]:
    lines, models = ["", "| measure | value |", "|---|---|"], results["models"]
    inp = results["input"]
    if inp["status"] == "ok":
        lines.append(f"| (c) input, crop + AutoAugment, {inp['cpu_cores']} cores, batch {inp['batch']} | "
                     f"{inp['img_s']:.1f} img/s |")
        for name in ("resnet50", "assemble_resnet50"):
            train = best_train(models, name)
            if train:
                lines.append(f"| (c) input / {name} train img/s ({train:.1f}) | {inp['img_s'] / train:.2f}x |")
    else:
        lines.append(f"| (c) input | {inp['status']} |")
    cor = results["corruptions"]
    if cor["status"] == "ok":
        lines.append(f"| (d) corruptions {cor['corruptions']} x 5, {cor['images']} images {cor['size']} px: ours "
                     f"on {cor['device'].split('device:')[-1]} / imagecorruptions on {cor['cpu_workers']} cores | "
                     f"{cor['ours_img_s']:.1f} / {cor['imagecorruptions_img_s']:.1f} img/s = {cor['ratio']:.2f}x |")
    else:
        lines.append(f"| (d) corruptions | {cor['status']} |")
    demo = results["demo"]
    if demo["status"] == "ok" and "top1" in demo:
        data = "fake 10-class data, tiny" if demo["fake_data"] else "Fashion-MNIST test"
        lines.append(f"| (e) demo, {demo['epochs']:g} epochs ({data}) | {demo['top1']:.2%} top-1, "
                     f"{demo['wall_s']:.0f} s wall |")
    else:
        lines.append(f"| (e) demo | {demo.get('skipped') or demo['status']} |")
    return lines


def markdown(results: dict) -> str:
    m = results["machine"]
    device = ", ".join(m["gpus"]) or "no GPU (CPU only)"
    head = [f"# gpu_check{' --tiny' if results['tiny'] else ''}: {device}; {m['cpu_cores']} CPU cores, "
            f"TF {m['tensorflow']}; {results['total_s']:.0f} s", ""]
    body = table_tests(results["tests"]) + [""] + table_models(results["models"]) + table_rest(results)
    return "\n".join(head + body) + "\n"


def tensorflow_installed() -> bool:
    try:
        return importlib.util.find_spec("tensorflow") is not None
    except (ImportError, ValueError):
        return False


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", default=os.environ.get("GPU_CHECK_TINY") == "1")
    parser.add_argument("--out", default=os.environ.get("OUT") or str(HERE / "results" / "gpu_check"))
    parser.add_argument("--budget_s", type=float, default=None, help="whole run (default 470, tiny 600)")
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--jobs", type=int, default=None, help="parts at a time (default 1, tiny 2)")
    parser.add_argument("--demo_data_dir", default=str(HERE.parent / "data" / "fashion_mnist"))
    parser.add_argument("--demo_epochs", type=float, default=None, help="default 2 (tiny: 0.005)")
    parser.add_argument("--run_part", choices=PARTS, help=argparse.SUPPRESS)
    parser.add_argument("--part_json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.jobs = args.jobs or (2 if args.tiny else 1)
    if not tensorflow_installed():
        print("error: gpu_check needs TensorFlow on this machine (pip install \"tensorflow[and-cuda]==2.21.0\"); "
              "a GPU machine without it (the device tool's H200) runs scripts/results/gpu/gpu_results.sh instead",
              file=sys.stderr)
        return 2
    if args.run_part:  # child process
        result = run_part(args.run_part, Sizes.make(args.tiny, args.demo_epochs), args.demo_data_dir)
        Path(args.part_json).write_text(json.dumps(result))
        return 0
    Path(args.out).mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    budget = args.budget_s or (TINY_BUDGET_S if args.tiny else BUDGET_S)
    results = {"tiny": args.tiny, "machine": machine(), **run_parts(args, budget)}
    results["total_s"] = time.perf_counter() - start
    (Path(args.out) / "gpu_check.json").write_text(json.dumps(results, indent=1))
    text = markdown(results)
    (Path(args.out) / "gpu_check.md").write_text(text)
    print(text)
    return 0 if all(results[n]["status"] in ("ok", "not run (--parts)") for n in PARTS) else 1


if __name__ == "__main__":
    raise SystemExit(main())

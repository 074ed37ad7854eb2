"""One GPU job per process: an (a) training run, a (c) transfer run, or the corrupted test subset.

    python3 gpu_jobs.py --spec '{"kind": "assembled", ...}' --work DIR --carry DIR

Each job writes DIR/<name>.json when it finishes (and DIR/<name>.npy for the corrupted subset);
`run_gpu_results.py` schedules them. Keras runs on its JAX (default) or torch backend (backends.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")   # several jobs share the GPU
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[2])]

import numpy as np  # noqa: E402
import torch  # noqa: E402

import gpu_data  # noqa: E402
from backends import inference, make_trainer, predict  # noqa: E402
from torch_recipe import Recipe  # noqa: E402

CORRUPTED = "corrupted_subset"
CLASSES = 10
NETWORK = dict(use_resnet_d=True, use_sk_block=True, anti_alias_type="sconv", anti_alias_filter_size=3,
               zero_gamma=True, use_dropblock=True, dropblock_block_size=3)   # exp_assembled.ASSEMBLED
LITE_PTH = "efficientnet-lite0-57934424.pth"


def log(name: str, message: str) -> None:
    print(f"[{name} {time.strftime('%H:%M:%S')}] {message}", flush=True)


def write_json(path: Path, payload: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    tmp.replace(path)


def subset_indices(n: int, fraction_seed: int = 0, count: int = 1000) -> np.ndarray:
    """The fixed test subset that the corruptions are computed on (first `count` of a permutation)."""
    return np.sort(np.random.default_rng(fraction_seed).permutation(n)[:count])


# ----------------------------------------------------------------------------- (a)

def build_resnet(spec: dict):
    from assembled_cnn.nets import build_model, model_config

    extra = NETWORK if spec["arm"] == "assembled" else {}
    return build_model(config=model_config("resnet18", num_classes=CLASSES, num_filters=spec["width"],
                                           bn_momentum=0.9, **extra))


def train_assembled(spec: dict, carry: Path):
    name, assembled = spec["name"], spec["arm"] == "assembled"
    torch.manual_seed(spec["seed"])
    images, labels = gpu_data.load_split(carry, "train")
    if spec.get("limit"):  # the tests' tiny runs
        images, labels = images[:spec["limit"]], labels[:spec["limit"]]
    dataset = gpu_data.CifarAugment(gpu_data.resize_uint8(images, spec["image_size"]), labels, assembled)
    loader = gpu_data.train_loader(dataset, spec["batch_size"], spec["seed"], workers=1)
    recipe = Recipe(epochs=spec["epochs"], batch_size=spec["batch_size"], steps_per_epoch=len(loader),
                    base_lr=spec["lr"], label_smoothing=0.1 if assembled else 0.0,
                    mixup_alpha=0.2 if assembled else 0.0, dropblock_kp=(1.0, 0.9) if assembled else None)
    model = build_resnet(spec)
    trainer = make_trainer(model, recipe, CLASSES, spec["seed"])
    start, epoch_times = time.perf_counter(), []
    for epoch in range(int(spec["epochs"])):
        t0 = time.perf_counter()
        for batch, y in loader:
            loss = trainer.train_step(gpu_data.to_inputs(batch, gpu_data.DEVICE), y.to(gpu_data.DEVICE, non_blocking=True))
        epoch_times.append(time.perf_counter() - t0)
        log(name, f"epoch {epoch + 1}: loss {float(loss):.3f}, {epoch_times[-1]:.1f} s")
    trainer.finish()
    return model, {"train_s": time.perf_counter() - start, "epoch_s": epoch_times, "steps": trainer.step}


def wait_for_corrupted(work: Path) -> np.ndarray | None:
    """The corrupted subset once the corrupt job has stored it; None if that job failed."""
    path = work / f"{CORRUPTED}.npy"
    while not path.exists():
        if (work / f"{CORRUPTED}.failed").exists():
            return None
        time.sleep(1)
    return np.load(path, mmap_mode="r")            # [15, 5, N, S, S, 3]


def corruption_errors(logits_fn, predicted_clean: np.ndarray, test_labels: np.ndarray, work: Path) -> dict:
    """Top-1 error per corruption and severity, and the clean error, on the corrupted subset."""
    corrupted = wait_for_corrupted(work)
    if corrupted is None:
        return {"corruption_errors": None}
    subset = subset_indices(len(test_labels), count=corrupted.shape[2])
    labels, errors = test_labels[subset], {}
    for c, corruption in enumerate(gpu_data.CORRUPTIONS):
        per_severity = []
        for s in range(5):
            batch = torch.from_numpy(np.ascontiguousarray(corrupted[c, s])).permute(0, 3, 1, 2)
            predicted = predict(logits_fn, batch, 1000, lambda b: gpu_data.to_inputs(b, gpu_data.DEVICE))
            per_severity.append(float(np.mean(predicted != labels)))
        errors[corruption] = per_severity
    return {"subset_clean_error": float(np.mean(predicted_clean[subset] != labels)), "corruption_errors": errors}


def job_assembled(spec: dict, carry: Path, work: Path) -> dict:
    """Trains, scores the test split and stores that at once (a time-out keeps it), then the corruptions."""
    model, timing = train_assembled(spec, carry)
    logits_fn = inference(model)
    test_images, test_labels = gpu_data.load_split(carry, "t10k")
    test = gpu_data.resize_uint8(test_images, spec["image_size"])
    predicted = predict(logits_fn, test, 1000, lambda b: gpu_data.to_inputs(b, gpu_data.DEVICE))
    result = {**spec, **timing, "test_top1": float(np.mean(predicted == test_labels)), "corruption_errors": None}
    log(spec["name"], f"test top-1 {result['test_top1']:.4f}")
    write_json(work / f"{spec['name']}.json", result)
    result.update(corruption_errors(logits_fn, predicted, test_labels, work))
    log(spec["name"], "corruptions scored" if result["corruption_errors"] else "no corrupted subset (its job failed)")
    return result


def job_corrupt(spec: dict, carry: Path, work: Path) -> dict:
    start = time.perf_counter()
    images, _ = gpu_data.load_split(carry, "t10k")
    subset = gpu_data.resize_uint8(images[subset_indices(len(images), count=spec["count"])], spec["image_size"])
    corrupted = gpu_data.corrupted_subset(subset.numpy(), spec["workers"])
    np.save(work / f"{CORRUPTED}.tmp.npy", corrupted)
    os.replace(work / f"{CORRUPTED}.tmp.npy", work / f"{CORRUPTED}.npy")
    return {**spec, "shape": list(corrupted.shape), "seconds": time.perf_counter() - start}


def job_probe(spec: dict, carry: Path, work: Path) -> dict:
    """ms per training step of the (a) networks alone in one process (random data, no loader), to
    size later GPU runs: eager Keras-on-torch is bound by Python overhead, not by the GPU."""
    timings = {}
    for arm in ("vanilla", "assembled"):
        for batch_size in spec["batch_sizes"]:
            model = build_resnet({**spec, "arm": arm})
            recipe = Recipe(epochs=1, batch_size=batch_size, steps_per_epoch=1000, base_lr=0.1,
                            label_smoothing=0.1, mixup_alpha=0.2 if arm == "assembled" else 0.0,
                            dropblock_kp=(0.9, 0.9) if arm == "assembled" else None)
            trainer = make_trainer(model, recipe, CLASSES, 0)
            images = torch.randint(0, 256, (batch_size, 3, spec["image_size"], spec["image_size"]), dtype=torch.uint8)
            labels = torch.randint(0, CLASSES, (batch_size,)).to(gpu_data.DEVICE)
            inputs, loss = gpu_data.to_inputs(images, gpu_data.DEVICE), None
            for step in range(spec["warmup"] + spec["steps"]):
                if step == spec["warmup"]:
                    float(loss) if step else None          # wait for the device
                    start = time.perf_counter()
                loss = trainer.train_step(inputs, labels)
            float(loss)
            timings[f"{arm}_b{batch_size}"] = 1000 * (time.perf_counter() - start) / spec["steps"]
            log(spec["name"], f"{arm} batch {batch_size}: {timings[f'{arm}_b{batch_size}']:.1f} ms/step")
    return {**spec, "ms_per_step": timings}


JOBS = {"assembled": job_assembled, "corrupt": job_corrupt, "probe": job_probe}


def accelerator() -> str:
    """Where Keras computes: 'gpu' or 'cpu'. A JAX without its CUDA plugin runs on the CPU without a word."""
    if os.environ["KERAS_BACKEND"] == "jax":
        import jax

        return jax.default_backend()
    return "gpu" if torch.cuda.is_available() else "cpu"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--carry", required=True)
    args = parser.parse_args()
    spec, work, carry = json.loads(args.spec), Path(args.work), Path(args.carry)
    torch.set_num_threads(2)
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    where = accelerator()
    log(spec["name"], f"Keras backend {os.environ['KERAS_BACKEND']} on {where}, torch data ops on {gpu_data.DEVICE}")
    if os.environ.get("REQUIRE_GPU") == "1" and where != "gpu":   # gpu_results.sh: a CPU run would only eat the box
        sys.exit(f"{spec['name']}: Keras backend {os.environ['KERAS_BACKEND']} sees no GPU ({where}); "
                 "run with the other backend (device_run.sh falls back to torch)")
    if spec["kind"] not in JOBS:
        from gpu_transfer import TRANSFER_JOBS

        JOBS.update(TRANSFER_JOBS)
    result = JOBS[spec["kind"]](spec, carry, work)
    write_json(work / f"{spec['name']}.json", result)


if __name__ == "__main__":
    main()

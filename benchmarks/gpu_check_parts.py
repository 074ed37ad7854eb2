"""The five parts of `gpu_check.py`, each run in its own process (time-boxed by the driver).

Every part takes the run's `Sizes` and returns a JSON-able dict; the driver turns them into
the table. Nothing here assumes a GPU: on the CPU they run the same code at tiny sizes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))


@dataclasses.dataclass(frozen=True)
class Sizes:
    tiny: bool
    image_size: int = 224
    batch: int = 256
    steps: int = 10
    rounds: int = 3
    policies: tuple = ("fp16", "bf16")
    models: tuple = ("keras_resnet50", "resnet50", "assemble_resnet50")
    test_filter: str = ""
    input_images: int = 512
    input_seconds: float = 10.0
    corruption_images: int = 64
    corruption_size: int = 224
    corruptions: tuple = ()  # () = all 15
    demo_epochs: float = 2.0

    @classmethod
    def make(cls, tiny: bool, demo_epochs: float | None = None) -> "Sizes":
        if not tiny:
            return cls(False, demo_epochs=demo_epochs or 2.0)
        return cls(True, image_size=32, batch=2, steps=1, rounds=1, policies=("bf16",),
                   models=("keras_resnet50", "resnet50"), test_filter="conv_paths", input_images=16,
                   input_seconds=1.0, corruption_images=2, corruption_size=32,
                   corruptions=("gaussian_noise", "contrast"), demo_epochs=demo_epochs or 0.005)


# --------------------------------------------------------------------------- (a) tests
def part_tests(sizes: Sizes) -> dict:
    """The gpu-marked tests; on a machine without a GPU (tiny mode) forced onto the CPU."""
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "gpu",
                   str(REPO / "tests" / "train" / "test_gpu.py"), f"--junitxml={junit}"]
        if sizes.test_filter:
            command += ["-k", sizes.test_filter]
        env = {**os.environ, "ASSEMBLED_CNN_GPU_TESTS_ON_CPU": "1" if sizes.tiny else ""}
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env)
        rows = junit_rows(junit) if junit.exists() else []
    return {"returncode": done.returncode, "tests": rows, "forced_on_cpu": sizes.tiny,
            "output_tail": done.stdout[-1500:] + done.stderr[-1500:]}


def junit_rows(path: Path) -> list[dict]:
    rows = []
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            if case.find(tag) is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
        rows.append({"test": case.get("name"), "outcome": outcome, "seconds": float(case.get("time", 0))})
    return rows


# --------------------------------------------------------------------------- (b) models
POLICIES = {"fp32": "float32", "fp16": "mixed_float16", "bf16": "mixed_bfloat16"}


class Contender:
    """One model under one policy and conv-path setting, its train and inference steps traced."""

    def __init__(self, name: str, policy: str, paths: str, sizes: Sizes):
        import keras
        import tensorflow as tf

        import bench_models
        from assembled_cnn.nets.layers.conv_paths import conv_paths

        self.name, self.policy, self.paths, self.batch = name, policy, paths, sizes.batch
        keras.config.set_dtype_policy(POLICIES[policy])
        try:
            with conv_paths(paths):  # the path is chosen while the steps are traced
                self.model = bench_models.make_model(name, sizes.image_size)
                self.train_step, self.infer_step = bench_models.step_functions(self.model, jit=False)
                rng = np.random.default_rng(0)
                shape = (sizes.batch, sizes.image_size, sizes.image_size, 3)
                self.x = tf.constant(rng.normal(0, 60, shape).astype("float32"))
                self.y = tf.constant(rng.integers(0, 1000, sizes.batch).astype("int32"))
                float(self.train_step(self.x, self.y))
                self.infer_step(self.x).numpy()
        finally:
            keras.config.set_dtype_policy("float32")

    def images_per_s(self, kind: str, steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            out = self.train_step(self.x, self.y) if kind == "train" else self.infer_step(self.x)
        out.numpy()
        return steps * self.batch / (time.perf_counter() - start)


def measure(contenders: list, sizes: Sizes) -> list[dict]:
    """Interleaved rounds (A B A B ...), median images/s per contender."""
    samples = {id(c): {"train": [], "infer": []} for c in contenders}
    for _ in range(sizes.rounds):
        for kind in ("train", "infer"):
            for c in contenders:
                samples[id(c)][kind].append(c.images_per_s(kind, sizes.steps))
    return [{"model": c.name, "policy": c.policy, "conv_paths": c.paths,
             "train_img_s": statistics.median(samples[id(c)]["train"]),
             "infer_img_s": statistics.median(samples[id(c)]["infer"])} for c in contenders]


def part_models(sizes: Sizes) -> dict:
    """Pick the policy by our resnet50's train speed, then all models, both conv paths."""
    import gc

    probes = {p: Contender("resnet50", p, "plain", sizes) for p in sizes.policies}
    probe = {p: measure([c], sizes)[0]["train_img_s"] for p, c in probes.items()}
    policy = max(probe, key=probe.get)
    contenders = []
    for name in sizes.models:
        for paths in (("plain",) if name == "keras_resnet50" else ("plain", "tuned")):
            reuse = name == "resnet50" and paths == "plain"  # the probe's winner, already traced
            contenders.append(probes[policy] if reuse else Contender(name, policy, paths, sizes))
    del probes
    gc.collect()
    rows = measure(contenders, sizes)
    base = next(r for r in rows if r["model"] == "keras_resnet50")
    for row in rows:
        row["train_vs_keras"] = row["train_img_s"] / base["train_img_s"]
        row["infer_vs_keras"] = row["infer_img_s"] / base["infer_img_s"]
    return {"image_size": sizes.image_size, "batch": sizes.batch, "policy": policy,
            "policy_probe": probe, "rows": rows}


# --------------------------------------------------------------------------- (c) input
def part_input(sizes: Sizes) -> dict:
    """Inception crop + flip + AutoAugment `imagenet` at 224 px on all CPU cores, out img/s."""
    import bench_input

    encoded, source = bench_input.make_jpegs(sizes.input_images)
    with tempfile.TemporaryDirectory() as data_dir:
        bench_input.write_records(encoded, data_dir)
        rate = bench_input.pipeline_throughput(data_dir, sizes.batch, sizes.input_seconds, "imagenet", "none")
    return {"img_s": rate, "cpu_cores": os.cpu_count(), "batch": sizes.batch, "images": source}


# --------------------------------------------------------------------------- (d) corruptions
def corruption_images(count: int, size: int) -> np.ndarray:
    """Photos from installed packages (no download), else smooth synthetic images."""
    from PIL import Image

    import bench_input

    photos = bench_input.find_photos()
    rng = np.random.default_rng(0)
    images = []
    for i in range(count):
        image = photos[i % len(photos)] if photos else bench_input.synthetic_photo(rng)
        images.append(np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR)))
    return np.stack(images)


def _reference_one(task):
    from imagecorruptions import corrupt

    image, name, severity = task
    return corrupt(image, severity, name).shape


def part_corruptions(sizes: Sizes) -> dict:
    """15 x 5 corruptions: ours batched (on the GPU if there is one) vs imagecorruptions on all cores."""
    import multiprocessing

    import tensorflow as tf

    from assembled_cnn.robustness.corruptions import COMMON_CORRUPTIONS, corrupt

    names = list(sizes.corruptions or COMMON_CORRUPTIONS)
    images = corruption_images(sizes.corruption_images, sizes.corruption_size)
    batch = tf.constant(images)
    pairs = [(n, s) for n in names for s in range(1, 6)]
    for name, severity in pairs:  # tracing / compiling, not timed
        corrupt(batch, name, severity).numpy()
    start = time.perf_counter()
    for index, (name, severity) in enumerate(pairs):
        out = corrupt(batch, name, severity, index=index * len(images))
        out.numpy()
    ours = len(pairs) * len(images) / (time.perf_counter() - start)
    workers = os.cpu_count() or 1
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        pool.map(_reference_one, [(images[0], n, s) for n, s in pairs])  # numba JIT per worker
        start = time.perf_counter()
        pool.map(_reference_one, [(image, n, s) for n, s in pairs for image in images], chunksize=1)
        reference = len(pairs) * len(images) / (time.perf_counter() - start)
    return {"ours_img_s": ours, "imagecorruptions_img_s": reference, "cpu_workers": workers,
            "device": out.device, "corruptions": len(names), "images": len(images),
            "size": sizes.corruption_size, "ratio": ours / reference}


# --------------------------------------------------------------------------- (e) demo
def fake_fashion_mnist(root: Path, train: int = 128, validation: int = 64) -> Path:
    """A tiny stand-in in Fashion-MNIST's layout (10 classes, 28 px grayscale PNG), for tiny mode."""
    import tensorflow as tf

    from assembled_cnn.datasets import schema

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    splits = {}
    for split, count in (("train", train), ("validation", validation)):
        with tf.io.TFRecordWriter(str(root / f"{split}-00000-of-00001")) as writer:
            for i in range(count):
                image = rng.integers(0, 40, (28, 28, 1)).astype(np.uint8)
                image[(i % 10) * 2:(i % 10) * 2 + 8] = 220
                png = tf.io.encode_png(image).numpy()
                writer.write(schema.make_example(png, i % 10, filename=f"{split}_{i}.png", height=28, width=28,
                                                 image_format="PNG", channels=1,
                                                 colorspace="Grayscale").SerializeToString())
        splits[split] = {"num_records": count, "num_shards": 1}
    info = {"name": "fashion_mnist", "num_classes": 10, "image_format": "PNG", "channels": 1, "splits": splits,
            "label_map": {str(k): f"class_{k}" for k in range(10)}}
    (root / "dataset_info.json").write_text(json.dumps(info))
    return root


def part_demo(sizes: Sizes, data_dir: str) -> dict:
    """`assembled_cnn.demo` end to end (train, evaluation, export, export check); wall time, top-1."""
    from assembled_cnn import demo

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(data_dir)
        if sizes.tiny:
            data = fake_fashion_mnist(Path(tmp) / "fake_fashion_mnist")
        elif not (data / "dataset_info.json").exists():
            return {"skipped": f"no Fashion-MNIST TFRecords in {data} (make them with "
                               f"`python -m assembled_cnn.datasets.fetch fashion_mnist --output_dir {data}`)"}
        start = time.perf_counter()
        demo.main(["--output_dir", str(Path(tmp) / "demo"), "--data_dir", str(data),
                   "--epochs", str(sizes.demo_epochs)])
        seconds = time.perf_counter() - start
        results = json.loads((Path(tmp) / "demo" / "model" / "eval_results.json").read_text())
    return {"wall_s": seconds, "top1": results["top1"], "epochs": sizes.demo_epochs, "fake_data": sizes.tiny,
            "eval_examples": results.get("num_examples")}

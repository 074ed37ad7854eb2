"""(c) on the GPU: EfficientNet-Lite0 (ImageNet weights) → Fashion-MNIST at 224 px, three regimes.

- fixed: penultimate features (centre crop) + L-BFGS logistic regression (`transfer.linear_probe`);
  C chosen on the validation split, then fit on each labelled subset (as the CPU study does);
- finetune / random: the toolkit's recipe (torch_recipe.py): SGD + momentum, warm-up 1/10 then
  cosine, weight decay 4e-5, BN momentum 0.9, Inception crop + flip; the LR of each regime chosen
  on a validation split of 5,000 train images (held out of every labelled subset).
"""

from __future__ import annotations

import time

import numpy as np
import torch

import gpu_data
from gpu_jobs import CLASSES, LITE_PTH, log
from backends import inference, make_trainer, predict
from torch_recipe import Recipe

VALIDATION = 5000


def splits(carry, limit: int | None = None) -> dict:
    """validation (5,000 held-out train images), the labelled pool (the rest), and test
    (`limit`: the first images of each split only, for the tests' tiny runs)."""
    images, labels = gpu_data.load_split(carry, "train")
    test_images, test_labels = gpu_data.load_split(carry, "t10k")
    if limit:
        images, labels, test_images, test_labels = images[:limit], labels[:limit], test_images[:limit], test_labels[:limit]
    order = np.random.default_rng(0).permutation(len(images))
    held_out = min(VALIDATION, len(images) // 4)
    val, pool = order[:held_out], order[held_out:]
    return {"images": images, "labels": labels, "val": val, "pool": pool,
            "test_images": test_images, "test_labels": test_labels}


def labelled_subset(labels: np.ndarray, pool: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    picked = [rng.permutation(pool[labels[pool] == c])[:per_class] for c in range(CLASSES)]
    return np.sort(np.concatenate(picked))


def build_lite(pretrained: bool, carry):
    from assembled_cnn.nets import build_model, model_config
    from assembled_cnn.weights.torch_import import load_torch_weights

    model = build_model(config=model_config("efficientnet_lite0", num_classes=CLASSES, bn_momentum=0.9))
    if pretrained:
        load_torch_weights(model, str(carry / LITE_PTH), skip_head=True)
    return model


def features(model, images: np.ndarray, size: int, batch: int = 500) -> np.ndarray:
    import keras

    extractor = inference(keras.Model(model.inputs, model.get_layer("features").output))
    gray = torch.from_numpy(np.array(images)).to(gpu_data.DEVICE)
    out = [extractor(gpu_data.centre_crop(gray[i:i + batch], size)).astype(np.float32)
           for i in range(0, len(images), batch)]
    return np.concatenate(out).reshape(len(images), -1)


def job_fixed(spec: dict, carry, work) -> dict:
    """C chosen once per size on the 5,000 validation images (training on the seed-0 subset), then
    fit on each seed's subset: the CPU study's protocol since 2026-11-29 (`exp_transfer.py`)."""
    from assembled_cnn.transfer.linear_probe import fit_linear_probe, score

    start, data = time.perf_counter(), splits(carry, spec.get("limit"))
    model = build_lite(True, carry)
    train_x = features(model, data["images"], spec["image_size"])
    test_x = features(model, data["test_images"], spec["image_size"])
    val_x, val_y = train_x[data["val"]], data["labels"][data["val"]]
    cells = []
    for per_class in spec["sizes"]:
        search = labelled_subset(data["labels"], data["pool"], per_class, 0)
        chosen = fit_linear_probe(train_x[search], data["labels"][search], val_x, val_y, refit=False).C
        for seed in spec["seeds"]:
            subset = labelled_subset(data["labels"], data["pool"], per_class, seed)
            probe = fit_linear_probe(train_x[subset], data["labels"][subset], val_x, val_y, c_grid=[chosen],
                                     refit=False)
            top1 = score("top1", data["test_labels"], probe.predict(test_x))
            cells.append({"per_class": per_class, "seed": seed, "test_top1": top1, "probe_C": chosen})
            log(spec["name"], f"{per_class}/class seed {seed}: {top1:.4f} (C {chosen:g})")
    return {**spec, "cells": cells, "seconds": time.perf_counter() - start}


def train_lite(spec: dict, data: dict, subset: np.ndarray, carry) -> tuple:
    torch.manual_seed(spec["seed"])
    model = build_lite(spec["kind"] == "finetune", carry)
    steps = len(subset) // spec["batch_size"]
    recipe = Recipe(epochs=spec["epochs"], batch_size=spec["batch_size"], steps_per_epoch=steps,
                    base_lr=spec["lr"], weight_decay=spec["weight_decay"], warmup_epochs=spec["epochs"] / 10)
    trainer = make_trainer(model, recipe, CLASSES, spec["seed"])
    gray = torch.from_numpy(data["images"][subset]).to(gpu_data.DEVICE)
    labels = torch.from_numpy(data["labels"][subset]).to(gpu_data.DEVICE)
    generator = torch.Generator().manual_seed(spec["seed"])
    start = time.perf_counter()
    for _ in range(int(spec["epochs"])):
        order = torch.randperm(len(subset), generator=generator).to(gpu_data.DEVICE)
        for i in range(steps):
            index = order[i * spec["batch_size"]:(i + 1) * spec["batch_size"]]
            trainer.train_step(gpu_data.inception_crop(gray[index], spec["image_size"], generator), labels[index])
    trainer.finish()
    return model, time.perf_counter() - start


def top1(model, images: np.ndarray, labels: np.ndarray, size: int, batch: int = 500) -> float:
    gray = torch.from_numpy(np.array(images)).to(gpu_data.DEVICE)
    predicted = predict(inference(model), gray, batch, lambda b: gpu_data.centre_crop(b, size))
    return float(np.mean(predicted == labels))


def job_trained(spec: dict, carry, work) -> dict:
    """A search run (subset seed 0, scored on validation) or a final (seed s, scored on test)."""
    data = splits(carry, spec.get("limit"))
    subset = labelled_subset(data["labels"], data["pool"], spec["per_class"], spec["seed"])
    model, seconds = train_lite(spec, data, subset, carry)
    if spec["phase"] == "search":
        score = top1(model, data["images"][data["val"]], data["labels"][data["val"]], spec["image_size"])
    else:
        score = top1(model, data["test_images"], data["test_labels"], spec["image_size"])
    log(spec["name"], f"{spec['phase']} lr {spec['lr']}: {score:.4f} ({seconds:.0f} s)")
    return {**spec, "top1": score, "train_s": seconds}


TRANSFER_JOBS = {"fixed": job_fixed, "finetune": job_trained, "random": job_trained}

"""Which trainer and inference function the GPU jobs use, by Keras backend.

jax (default in gpu_results.sh): the compiled step of jax_recipe.py; torch data ops stay on the CPU.
torch: the eager loop of torch_recipe.py on CUDA (what the 2026-11-29 H200 session ran).
"""

from __future__ import annotations

import keras
import numpy as np


def is_jax() -> bool:
    return keras.backend.backend() == "jax"


def make_trainer(model, recipe, classes: int, seed: int):
    if is_jax():
        from jax_recipe import JaxTrainer

        return JaxTrainer(model, recipe, classes, seed)
    from torch_recipe import Trainer

    return Trainer(model, recipe, classes, seed)


def inference(model):
    """x (NHWC float) → numpy logits with the model's current weights; compiled under JAX."""
    if is_jax():
        import jax

        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        # the weights are arguments, not constants folded into the compiled program
        run = jax.jit(lambda t, n, x: model.stateless_call(t, n, x, training=False)[0])
        return lambda x: np.asarray(run(trainable, non_trainable, np.asarray(x)))
    import torch

    def run_torch(x):
        with torch.no_grad():
            return keras.ops.convert_to_numpy(model(x, training=False))
    return run_torch


def predict(logits_fn, images, batch_size: int, prepare) -> np.ndarray:
    """Top-1 predictions of `images` (N first), each batch turned into inputs by `prepare`."""
    out = [logits_fn(prepare(images[start:start + batch_size])).argmax(-1)
           for start in range(0, images.shape[0], batch_size)]
    return np.concatenate(out) if out else np.zeros((0,), np.int64)

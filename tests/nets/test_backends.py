"""The model zoo under Keras's torch and JAX backends (what the GPU runs of scripts/results/gpu use,
since the lent GPU machine has no TensorFlow): same weights, same logits as under TensorFlow, and a
torch training step that goes through DropBlock. Needs an interpreter with torch and Keras: this one if it has
torch, else $ASSEMBLED_CNN_TORCH_PYTHON; skipped without one (CI's locked environment has no torch)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
ASSEMBLED = dict(use_resnet_d=True, use_sk_block=True, anti_alias_type="sconv", anti_alias_filter_size=3,
                 use_dropblock=True, dropblock_block_size=3)

TORCH_SIDE = """
import json, os, sys
os.environ["KERAS_BACKEND"] = "torch"
import numpy as np, keras, torch
from assembled_cnn.nets import build_model, model_config, set_dropblock_keep_prob
name, config, weights, inputs = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
model = build_model(config=model_config(name, **config))
model.load_weights(weights)
x = np.load(inputs)
logits = keras.ops.convert_to_numpy(model(x, training=False))
set_dropblock_keep_prob(model, 0.5)
loss = model(x, training=True).float().logsumexp(-1).mean()
loss.backward()
grads = [v.value.grad for v in model.trainable_weights]
print(json.dumps({"logits": logits.tolist(), "tensorflow_imported": "tensorflow" in sys.modules,
                  "grads_finite": all(g is not None and bool(torch.isfinite(g).all()) for g in grads),
                  "train_differs": float((model(x, training=True) - torch.as_tensor(logits)).abs().max())}))
"""


JAX_SIDE = """
import json, os, sys
os.environ["KERAS_BACKEND"] = "jax"
import numpy as np, keras
from assembled_cnn.nets import build_model, model_config
name, config, weights, inputs = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
model = build_model(config=model_config(name, **config))
model.load_weights(weights)
logits = keras.ops.convert_to_numpy(model(np.load(inputs), training=False))
print(json.dumps({"logits": logits.tolist(), "tensorflow_imported": "tensorflow" in sys.modules}))
"""


def torch_python() -> str | None:
    if importlib.util.find_spec("torch") is not None:
        return sys.executable
    return os.environ.get("ASSEMBLED_CNN_TORCH_PYTHON") or None


@pytest.mark.skipif(torch_python() is None, reason="no interpreter with torch (set ASSEMBLED_CNN_TORCH_PYTHON)")
@pytest.mark.parametrize("name, config", [
    ("resnet18", {"num_classes": 10, "num_filters": 8, "zero_gamma": False, **ASSEMBLED}),
    ("efficientnet_lite0", {"num_classes": 10}),
])
def test_torch_backend_gives_the_tensorflow_logits_and_trains_through_dropblock(tmp_path, name, config):
    import keras

    from assembled_cnn.nets import build_model, model_config

    model = build_model(config=model_config(name, **config))
    inputs = np.random.default_rng(0).normal(0, 50, size=(2, 40, 40, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(inputs, training=False))
    model.save_weights(tmp_path / "model.weights.h5")
    np.save(tmp_path / "inputs.npy", inputs)
    env = {**os.environ, "PYTHONPATH": str(REPO), "KERAS_BACKEND": "torch"}
    done = subprocess.run([torch_python(), "-c", TORCH_SIDE, name, json.dumps(config),
                           str(tmp_path / "model.weights.h5"), str(tmp_path / "inputs.npy")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not result["tensorflow_imported"]              # the zoo needs no TensorFlow there
    np.testing.assert_allclose(result["logits"], expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())
    assert result["grads_finite"]
    if config.get("use_dropblock"):
        assert result["train_differs"] > 0                # DropBlock (keep 0.5) and batch statistics act
    jax_check = subprocess.run([torch_python(), "-c", JAX_SIDE, name, json.dumps(config),
                                str(tmp_path / "model.weights.h5"), str(tmp_path / "inputs.npy")],
                               capture_output=True, text=True, env={**env, "KERAS_BACKEND": "jax"}, timeout=300)
    if "No module named 'jax'" in jax_check.stderr:
        return                                            # an interpreter with torch only
    assert jax_check.returncode == 0, jax_check.stderr[-2000:]
    jax_result = json.loads(jax_check.stdout.strip().splitlines()[-1])
    assert not jax_result["tensorflow_imported"]
    np.testing.assert_allclose(jax_result["logits"], expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())

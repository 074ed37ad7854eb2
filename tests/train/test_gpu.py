"""GPU-only checks of the real training path (Runner + ClassificationTask) on toy data.

Skipped without a visible GPU; ``ASSEMBLED_CNN_GPU_TESTS_ON_CPU=1`` runs them on the CPU at the
same tiny sizes (then the "runs on the GPU" assertions are skipped, MirroredStrategy uses two
logical CPUs, and the numbers check only that the code paths work). ``benchmarks/gpu_check.sh``
runs them first.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from assembled_cnn.nets.layers import conv_paths
from assembled_cnn.train.runner import Runner
from assembled_cnn.train.summaries import read_metrics
from trainlib import toy_config

pytestmark = pytest.mark.gpu
REPO = Path(__file__).resolve().parents[2]
ON_GPU = bool(tf.config.list_physical_devices("GPU"))
ASSEMBLED = {"use_resnet_d": True, "use_sk_block": True, "anti_alias_type": "sconv", "anti_alias_filter_size": 3}


def gpu_config(data_dir, model_dir, steps=8, **overrides):
    """Toy config, no op determinism (XLA/cuDNN kernels without a deterministic version would raise)."""
    train = {"max_train_steps": steps, "base_learning_rate": 0.05, **overrides.pop("train", {})}
    run = {"mode": "train", "log_every_n_steps": 1, "save_checkpoints_steps": steps, "op_determinism": False,
           **overrides.pop("run", {})}
    return toy_config(data_dir, model_dir, train=train, run=run, **overrides)


def assert_placed_on_the_gpu(model):
    kernel = next(w for w in model.weights if w.path.endswith("kernel"))
    if ON_GPU:
        assert conv_paths.device_type(kernel) == "GPU"
        assert not conv_paths.use_tuned_paths(kernel) or conv_paths.conv_paths_mode() == "tuned"


def test_conv_paths_follow_the_device():
    """On a GPU the layers run the plain conv (nothing was measured there), on the CPU the tuned paths."""
    from assembled_cnn.nets.layers.padded_conv import FixedPaddingConv2D
    from assembled_cnn.nets.layers.pointwise_conv import PointwiseConv2D

    x = tf.ones((1, 2, 2, 256))
    conv, pointwise = FixedPaddingConv2D(512, 3, pad=(1, 1)), PointwiseConv2D(8)
    conv(x), pointwise(x)
    assert conv_paths.device_type(conv.kernel) == ("GPU" if ON_GPU else "CPU")
    if conv_paths.conv_paths_mode() == "auto":
        assert conv._use_im2col(x, training=True) is not ON_GPU
        assert pointwise._use_matmul(x) is not ON_GPU


@pytest.mark.parametrize("dtype,compute", [("fp16", "float16"), ("bf16", "bfloat16")])
def test_mixed_precision_trains_finite_and_improving(toy_data, tmp_path, dtype, compute):
    runner = Runner(gpu_config(toy_data, tmp_path, steps=12, model=ASSEMBLED, train={"dtype": dtype}))
    runner.train()
    losses = [r["loss"] for r in read_metrics(str(tmp_path), "train")]
    assert len(losses) >= 12 and all(np.isfinite(losses)), losses  # + one line per skipped fp16 step
    assert np.mean(losses[-3:]) < np.mean(losses[:3]), losses
    assert runner.model.get_layer("s1_b0_conv3").compute_dtype == compute
    assert all(w.dtype == "float32" and np.isfinite(w.numpy()).all() for w in runner.model.trainable_weights)
    if dtype == "fp16":  # dynamic loss scaling: each overflow skips the update and halves the scale
        assert isinstance(runner.optimizer, keras.optimizers.LossScaleOptimizer)
        skipped = len(losses) - 12
        assert float(runner.optimizer.dynamic_scale.numpy()) == 2.0 ** 15 / 2 ** skipped
    assert_placed_on_the_gpu(runner.model)
    runner.close()


def _snapshot(variables):
    return [v.numpy().copy() for v in variables]


def _restore(variables, values):
    for variable, value in zip(variables, values):
        variable.assign(value)


def test_xla_train_step_equals_the_plain_step(toy_data, tmp_path):
    runner = Runner(gpu_config(toy_data, tmp_path, model=ASSEMBLED, data={"deterministic": True}))
    task, model, optimizer = runner.task, runner.model, runner.optimizer
    batches = list(task.build_inputs(True).take(2))

    def step(features, targets):
        grads, loss, _ = task.replica_gradients(model, features, targets, runner.parts, 1, optimizer)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    # Step by step from the same state: over several steps tiny round-off differences grow
    # (BN on the toy model's 1x1 stage-4 maps amplifies them), which says nothing about XLA.
    state = list(model.weights) + list(optimizer.variables)
    steps = {"xla": tf.function(step, jit_compile=True), "plain": tf.function(step)}
    for batch in batches:
        start = _snapshot(state)
        results = {}
        for name in ("xla", "plain"):  # the plain step last: the next step starts from its result
            _restore(state, start)
            results[name] = (float(steps[name](*batch)), _snapshot(state))
        assert results["xla"][0] == pytest.approx(results["plain"][0], rel=1e-4)
        for a, b, variable in zip(results["xla"][1], results["plain"][1], state):
            assert float(np.abs(a - b).max()) / max(float(np.abs(b).max()), 1e-6) < 1e-3, variable.path
        assert any(not np.allclose(a, b) for a, b in zip(start, results["xla"][1]))  # the step did train
    assert_placed_on_the_gpu(model)
    runner.close()


MIRRORED = textwrap.dedent("""
    import json, os, sys
    os.environ.pop("TF_FORCE_GPU_ALLOW_GROWTH", None)  # logical GPUs get fixed memory limits instead
    import numpy as np
    import tensorflow as tf
    kind = "GPU" if tf.config.list_physical_devices("GPU") and sys.argv[4] != "1" else "CPU"
    physical = tf.config.list_physical_devices(kind)
    split = len(physical) < 2  # one device: two logical ones, so that replicas really exchange
    if split:
        memory = [{"memory_limit": 8192}] * 2 if kind == "GPU" else [{}] * 2
        tf.config.set_logical_device_configuration(
            physical[0], [tf.config.LogicalDeviceConfiguration(**m) for m in memory])
    sys.path.insert(0, sys.argv[1])
    from trainlib import toy_config
    from assembled_cnn.train import runner as runner_lib

    def mirrored(name, num_gpus=None):
        devices = [d.name for d in tf.config.list_logical_devices(kind)]
        ops = tf.distribute.ReductionToOneDevice() if split else None  # NCCL needs distinct GPUs
        return tf.distribute.MirroredStrategy(devices, cross_device_ops=ops)

    out = {}
    for strategy in ("one_device", "mirrored"):
        if strategy == "mirrored":
            runner_lib.make_strategy = mirrored
        config = toy_config(sys.argv[2], sys.argv[3] + "/" + strategy, model={"sync_bn": True},
                            data={"deterministic": True, "seed": 5},
                            train={"max_train_steps": 4, "learning_rate_decay_type": "fixed",
                                   "base_learning_rate": 0.001},
                            run={"mode": "train", "log_every_n_steps": 1, "save_checkpoints_steps": 4,
                                 "op_determinism": False, "distribution_strategy": strategy})
        runner = runner_lib.Runner(config)
        runner.train()
        out[strategy] = {"replicas": runner.strategy.num_replicas_in_sync,
                         "device": runner.model.weights[0].value.device,
                         "weights": {w.path: w.numpy().tolist() for w in runner.model.weights}}
        out[strategy]["losses"] = [json.loads(l)["loss"] for l in open(config.run.model_dir + "/metrics.jsonl")
                                   if '"train"' in l]
        runner.close()
    print("RESULT" + json.dumps(out))
""")


def test_mirrored_strategy_with_sync_bn_equals_one_device(toy_data, tmp_path):
    forced_cpu = "0" if ON_GPU else "1"
    done = subprocess.run([sys.executable, "-c", MIRRORED, str(Path(__file__).parent), str(toy_data), str(tmp_path),
                           forced_cpu], capture_output=True, text=True, timeout=600, cwd=REPO,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.split("RESULT", 1)[1])
    one, many = out["one_device"], out["mirrored"]
    assert one["replicas"] == 1 and many["replicas"] >= 2
    assert ("GPU" in many["device"]) == ON_GPU
    assert len(one["losses"]) == 4
    np.testing.assert_allclose(many["losses"], one["losses"], rtol=1e-4)
    assert one["weights"].keys() == many["weights"].keys()
    for name, value in one["weights"].items():
        a, b = np.asarray(value), np.asarray(many["weights"][name])
        assert float(np.abs(a - b).max()) / max(float(np.abs(a).max()), 1e-6) < 1e-3, name


def test_export_and_reload_on_the_device(toy_data, tmp_path):
    runner = Runner(gpu_config(toy_data, tmp_path / "model", steps=2, model=ASSEMBLED))
    runner.train()
    path = runner.export(str(tmp_path / "export"))
    loaded = tf.saved_model.load(path)
    images = next(iter(runner.task.build_inputs(False)))[0]["image"][:8]
    outputs = loaded.signatures["serving_float"](images=images)
    expected = runner.model(images, training=False).numpy()
    np.testing.assert_allclose(outputs["logits"].numpy(), expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())
    png = [tf.io.encode_png(tf.cast(tf.fill([32, 32, 3], 128), tf.uint8))] * 2
    assert loaded.signatures["serving_bytes"](image_bytes=tf.stack(png))["classes"].shape == (2,)
    runner.close()

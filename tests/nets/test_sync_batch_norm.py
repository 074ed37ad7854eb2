"""Synchronized BatchNorm: global-batch statistics with exact gradients, stable in float32."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import tensorflow as tf

from assembled_cnn.nets.layers.norm import BatchNorm, global_moments

REPO = Path(__file__).resolve().parents[2]


def _run_bn(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * tf.reshape(tf.linspace(-1.0, 2.0, int(np.prod(y.shape))), y.shape))
    grads = tape.gradient(loss, [x, layer.gamma, layer.beta])
    return y.numpy(), [g.numpy() for g in grads], layer.moving_mean.numpy(), layer.moving_variance.numpy()


def test_synchronized_bn_on_one_replica_equals_the_fused_kernel():
    x = tf.constant(np.random.default_rng(0).normal(2.0, 3.0, (6, 5, 5, 4)).astype(np.float32))
    results = []
    for synchronized in (False, True):
        layer = BatchNorm(momentum=0.9, epsilon=1e-5, synchronized=synchronized)
        layer.build(x.shape)
        layer.gamma.assign([0.5, 1.0, 1.5, 2.0])
        layer.beta.assign([0.1, -0.2, 0.3, 0.0])
        results.append(_run_bn(layer, x))
    (y0, g0, m0, v0), (y1, g1, m1, v1) = results
    np.testing.assert_allclose(y1, y0, rtol=1e-5, atol=1e-5)
    for a, b in zip(g1, g0):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(m1, m0, rtol=1e-6)
    np.testing.assert_allclose(v1, v0, rtol=1e-5)  # unbiased batch variance, as TF1's fused BN


def test_global_variance_is_exact_when_the_mean_dwarfs_the_spread():
    """E[x²] − E[x]² (Keras 3's synchronized moments) loses every digit here in float32."""
    rng = np.random.default_rng(1)
    x64 = 3000.0 + 0.05 * rng.standard_normal((16, 4, 4, 3))
    mean, variance, count = global_moments(tf.constant(x64.astype(np.float32)))
    x32 = x64.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(variance.numpy(), x32.var(axis=(0, 1, 2)), rtol=1e-3)
    np.testing.assert_allclose(mean.numpy(), x32.mean(axis=(0, 1, 2)), rtol=1e-6)
    assert float(count) == 16 * 4 * 4


TWO_REPLICAS = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, sys.argv[1])
    from assembled_cnn.nets.layers.norm import BatchNorm

    x = np.random.default_rng(0).normal(1.0, 2.0, (8, 3, 3, 4)).astype(np.float32)
    weights = np.random.default_rng(1).normal(size=x.shape).astype(np.float32)

    def run(strategy):
        with strategy.scope():
            layer = BatchNorm(momentum=0.5, epsilon=1e-5, synchronized=True)
            layer.build(x.shape)
        dataset = tf.data.Dataset.from_tensor_slices((x, weights)).batch(8)
        batch = next(iter(strategy.experimental_distribute_dataset(dataset)))

        def step(inputs, w):
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                y = layer(inputs, training=True)
                loss = tf.reduce_sum(y * w * y)
            g = tape.gradient(loss, [inputs, layer.gamma, layer.beta])
            ctx = tf.distribute.get_replica_context()
            return y, g[0], ctx.all_reduce("SUM", g[1]), ctx.all_reduce("SUM", g[2])

        y, gx, gg, gb = strategy.run(tf.function(step), args=batch)
        cat = lambda v: np.concatenate([t.numpy() for t in strategy.experimental_local_results(v)])
        first = lambda v: strategy.experimental_local_results(v)[0].numpy()
        return cat(y), cat(gx), first(gg), first(gb), layer.moving_mean.numpy(), layer.moving_variance.numpy()

    two = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    one = run(tf.distribute.OneDeviceStrategy("/cpu:0"))
    assert two[0].shape == (8, 3, 3, 4)
    for name, a, b in zip(["y", "grad_x", "grad_gamma", "grad_beta", "moving_mean", "moving_var"], one, two):
        err = float(np.abs(a - b).max() / np.abs(a).max())
        print(name, err)
        assert err < 1e-5, (name, err)
    print("ok")
""")


def test_two_replicas_give_the_global_batch_statistics_and_gradients_of_one():
    """Cross-replica gradients through the statistics must arrive: without them grad_x differs."""
    out = subprocess.run([sys.executable, "-c", TWO_REPLICAS, str(REPO)], capture_output=True, text=True,
                         env={"TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stdout + out.stderr[-3000:]

"""Batch normalisation through TF's fused kernel, as the original (`fused=True`, eps 1e-5).

Why not plain `keras.layers.BatchNormalization`: Keras 3 decomposes BN into moments and
arithmetic, which grappler cannot fold into the preceding convolution. The fused op lets
oneDNN (CPU) and cuDNN (GPU) run Conv2D+BN(+ReLU) as one kernel at inference and uses the
faster fused training kernel. Variables, names and checkpoints are those of the Keras layer.

Synchronized BN (`synchronized=True`, statistics over all replicas and workers) is computed
here too, not by Keras: Keras 3 takes the variance as E[x²] − E[x]² in float32. When a
channel's mean is large against its spread, that difference cancels catastrophically, so the
order in which replicas sum their parts (one worker vs two) changes the variance, and through
1/sqrt(var + eps) the gradients, by up to tens of percent after a few steps. We use two
passes instead (global mean, then the global sum of squared deviations), which is as exact
as one replica's own moments; each all-reduce carries the gradient back to every replica.

Under Keras's other backends (`backend.py`) the layer is plain Keras BN (no fused kernel there).
"""

from __future__ import annotations

import keras

from assembled_cnn.nets.layers import backend

tf = backend.tensorflow()


def _all_reduce_sum(value):
    """Sum over replicas (identity outside a strategy); its gradient is the summed gradient."""
    return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, value)


def global_moments(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Per-channel mean, biased variance and element count of NHWC `x` over all replicas."""
    axes = list(range(len(x.shape) - 1))
    count = tf.cast(tf.reduce_prod(tf.shape(x)[:-1]), tf.float32)
    total, count = _all_reduce_sum((tf.reduce_sum(x, axes), count))
    mean = total / count
    squared = _all_reduce_sum(tf.reduce_sum(tf.square(x - mean), axes))
    return mean, squared / count, count


class BatchNorm(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` for NHWC images computed by `FusedBatchNormV3`.

    Moving statistics follow TF1: `moving = momentum * moving + (1 - momentum) * batch`, the
    batch variance being the unbiased one, as `tf.layers.batch_normalization(fused=True)` did.
    With `synchronized=True` the batch statistics are those of the global batch (two-pass,
    see the module docstring); on one replica that equals the fused kernel.
    """

    def _moments(self, inputs, mask):
        """Under Keras's other backends: two passes (mean, then the mean squared deviation), since
        their one-pass E[x²] − E[x]² cancels when a channel's mean is large against its spread (a
        stem conv on 0-255 inputs), which moved one SGD step's update by ~1 % between torch and JAX."""
        if tf is not None or mask is not None:
            return super()._moments(inputs, mask)
        x = keras.ops.cast(inputs, "float32")
        axes = self._reduction_axes
        deviation = x - keras.ops.mean(x, axis=axes, keepdims=True)
        mean, variance = keras.ops.mean(x, axis=axes), keras.ops.mean(keras.ops.square(deviation), axis=axes)
        return keras.ops.cast(mean, inputs.dtype), keras.ops.cast(variance, inputs.dtype)

    def _can_fuse(self, inputs, training, mask) -> bool:
        return (tf is not None and mask is None and len(inputs.shape) == 4 and self.axis in (3, -1)
                and self.center and self.scale and not self.renorm
                and (training is None or isinstance(training, bool)))

    def call(self, inputs, training=None, mask=None):
        if not self._can_fuse(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        x = inputs
        if x.dtype not in (tf.float32, tf.bfloat16, tf.float16):
            x = tf.cast(x, tf.float32)
        gamma = tf.convert_to_tensor(self.gamma.value, tf.float32)
        beta = tf.convert_to_tensor(self.beta.value, tf.float32)
        mean = tf.convert_to_tensor(self.moving_mean.value, tf.float32)
        variance = tf.convert_to_tensor(self.moving_variance.value, tf.float32)
        train = bool(training) and self.trainable
        if train and self.synchronized:
            return self._synchronized_training_call(x, gamma, beta)
        if train:
            y, new_mean, new_variance, _, _, _ = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=gamma, offset=beta, mean=mean, variance=variance,
                epsilon=self.epsilon, exponential_avg_factor=1.0 - self.momentum,
                data_format="NHWC", is_training=True)
            self.moving_mean.assign(new_mean)
            self.moving_variance.assign(new_variance)
        else:
            y, _, _, _, _, _ = tf.raw_ops.FusedBatchNormV3(
                x=x, scale=gamma, offset=beta, mean=mean, variance=variance,
                epsilon=self.epsilon, exponential_avg_factor=1.0,
                data_format="NHWC", is_training=False)
        return tf.cast(y, self.compute_dtype)

    def _synchronized_training_call(self, x, gamma, beta):
        x32 = tf.cast(x, tf.float32)
        mean, variance, count = global_moments(x32)
        scale = gamma * tf.math.rsqrt(variance + self.epsilon)
        y = (x32 - mean) * scale + beta
        unbiased = variance * count / tf.maximum(count - 1.0, 1.0)
        decay = 1.0 - self.momentum
        self.moving_mean.assign_sub(decay * (self.moving_mean - tf.stop_gradient(mean)))
        self.moving_variance.assign_sub(decay * (self.moving_variance - tf.stop_gradient(unbiased)))
        return tf.cast(y, self.compute_dtype)

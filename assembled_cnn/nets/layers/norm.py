"""Batch normalisation through TF's fused kernel, as the original (`fused=True`, eps 1e-5).

Why not plain `keras.layers.BatchNormalization`: Keras 3 decomposes BN into moments and
arithmetic, which grappler cannot fold into the preceding convolution. The fused op lets
oneDNN (CPU) and cuDNN (GPU) run Conv2D+BN(+ReLU) as one kernel at inference and uses the
faster fused training kernel. Variables, names and checkpoints are those of the Keras layer.
"""

from __future__ import annotations

import keras
import tensorflow as tf


class BatchNorm(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` for NHWC images computed by `FusedBatchNormV3`.

    Moving statistics follow TF1: `moving = momentum * moving + (1 - momentum) * batch`, the
    batch variance being the unbiased one, as `tf.layers.batch_normalization(fused=True)` did.
    With `synchronized=True` (cross-replica statistics) it is the plain Keras layer.
    """

    def _can_fuse(self, inputs, training, mask) -> bool:
        return (mask is None and not self.synchronized and len(inputs.shape) == 4 and self.axis in (3, -1)
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
        if training and self.trainable:
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

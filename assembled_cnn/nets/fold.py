"""Inference models with every BatchNorm folded into the convolution before it.

At inference a BN is an affine map per channel, so `BN(conv(x, W))` equals `conv(x, W·s) + b`
with `s = γ / sqrt(var + ε)` and `b = β − mean·s`. Folding removes the BN op, and it also lets
TF's graph optimiser fuse conv + bias + residual add + ReLU into one oneDNN kernel, which it
cannot do across a FusedBatchNorm. Export and predict use the folded model; training and the
runner's evaluations keep the original one (the folded model is a snapshot of the weights).
"""

from __future__ import annotations

import keras
import numpy as np

from assembled_cnn.nets.model_info import with_folded_batch_norm


class FoldedBatchNorm(keras.layers.Layer):
    """Stands where a BN was folded away (so layer names are kept); identity at inference."""

    def call(self, inputs, training=None, mask=None):
        if training is True:
            raise ValueError(f"layer {self.name!r}: its BatchNorm was folded into the convolution for "
                             "inference; train the model that fold_batch_norm() was given instead")
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


def _producer(layer: keras.layers.Layer):
    nodes = layer._inbound_nodes
    if len(nodes) != 1 or len(nodes[0].parent_nodes) != 1:
        return None
    return nodes[0].parent_nodes[0].operation


def _foldable_pairs(model: keras.Model) -> dict[str, keras.layers.Layer]:
    """Conv name -> its BN, for BNs whose only input is a conv used by nothing else."""
    pairs = {}
    for layer in model.layers:
        if not isinstance(layer, keras.layers.BatchNormalization) or len(layer._inbound_nodes) != 1:
            continue
        if layer.axis not in (-1, 3) or not (layer.center and layer.scale):
            continue
        conv = _producer(layer)
        if (isinstance(conv, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))
                and len(conv._outbound_nodes) == 1 and len(conv._inbound_nodes) == 1):
            pairs[conv.name] = layer
    return pairs


def _folded_weights(conv, bn) -> tuple[np.ndarray, np.ndarray]:
    scale = bn.gamma.numpy().astype(np.float64) / np.sqrt(bn.moving_variance.numpy().astype(np.float64)
                                                          + bn.epsilon)
    kernel = conv.kernel.numpy().astype(np.float64)
    bias = conv.bias.numpy().astype(np.float64) if conv.use_bias else 0.0
    if isinstance(conv, keras.layers.DepthwiseConv2D):  # output channel c·M + m of kernel [k, k, C, M]
        kernel_scale = scale.reshape(kernel.shape[2], kernel.shape[3])
    else:
        kernel_scale = scale
    new_bias = (bias - bn.moving_mean.numpy()) * scale + bn.beta.numpy()
    return (kernel * kernel_scale).astype(np.float32), new_bias.astype(np.float32)


def fold_batch_norm(model: keras.Model) -> keras.Model:
    """A new functional model computing `model(x, training=False)` with BNs folded into convs.

    Layers other than the folded conv/BN pairs are shared with `model`. BNs that do not follow a
    conv directly (e.g. after an addition) stay as they are. Raises ValueError for subclassed models.
    """
    if not isinstance(model, keras.Model) or not hasattr(model, "_run_through_graph"):
        raise ValueError(f"fold_batch_norm needs a functional or Sequential Keras model; "
                         f"{model.name!r} is a subclassed {type(model).__name__}")
    pairs = _foldable_pairs(model)
    folded_bns = {bn.name for bn in pairs.values()}
    new_convs: dict[str, keras.layers.Layer] = {}

    def clone(layer):
        if layer.name in pairs:
            config = {**layer.get_config(), "use_bias": True}
            new_convs[layer.name] = type(layer).from_config(config)
            return new_convs[layer.name]
        if layer.name in folded_bns:
            return FoldedBatchNorm(name=layer.name, dtype=layer.dtype_policy)
        return layer

    folded = keras.models.clone_model(model, clone_function=clone)
    for name, bn in pairs.items():
        kernel, bias = _folded_weights(model.get_layer(name), bn)
        new_convs[name].kernel.assign(kernel)
        new_convs[name].bias.assign(bias)
    return with_folded_batch_norm(folded, model)

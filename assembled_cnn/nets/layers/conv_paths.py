"""Which conv paths a layer may use on the device it runs on.

`padded_conv.py` and `pointwise_conv.py` choose between a plain `tf.nn.conv2d` and forms tuned
on a 2-core x86 CPU with oneDNN (im2col / matmul on small maps, explicit padding for fp32
inference). Those thresholds say nothing about other devices, so:

- "auto" (default): the tuned rules on CPU, the plain conv on GPUs and other devices;
- "tuned": the tuned rules everywhere (to measure them on a GPU: `benchmarks/gpu_check.py`);
- "plain": the plain conv everywhere.

Set it with the environment variable ``ASSEMBLED_CNN_CONV_PATHS`` or, in a process,
`set_conv_paths(...)` / `with conv_paths(...)` (the setting wins over the variable). The choice is
made when a layer is called, i.e. when a `tf.function` traces it; both forms compute the same
conv with the same variables, so names and checkpoints do not change. Under Keras's other
backends (`backend.py`) there are no tuned paths: the layers run `keras.ops.conv`.
"""

from __future__ import annotations

import contextlib
import os

from assembled_cnn.nets.layers import backend

ENV_VAR = "ASSEMBLED_CNN_CONV_PATHS"
MODES = ("auto", "tuned", "plain")
# Device types the thresholds were measured on.
TUNED_DEVICE_TYPES = ("CPU",)

_setting: str | None = None


def _check(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"conv paths {mode!r}: choose one of {', '.join(MODES)} ({ENV_VAR})")
    return mode


def set_conv_paths(mode: str | None) -> None:
    """Process-wide setting ("auto", "tuned", "plain"); None falls back to the environment."""
    global _setting
    _setting = None if mode is None else _check(mode)


def conv_paths_mode() -> str:
    if _setting is not None:
        return _setting
    return _check(os.environ.get(ENV_VAR, "auto").strip().lower() or "auto")


@contextlib.contextmanager
def conv_paths(mode: str | None):
    """Use `mode` inside the block (for layers called, or functions traced, there)."""
    previous = _setting
    set_conv_paths(mode)
    try:
        yield
    finally:
        set_conv_paths(previous)


def device_type(kernel=None) -> str:
    """"CPU", "GPU", ...: where the layer's kernel lives, else where TF places ops by default."""
    variable = getattr(kernel, "_value", None)  # a Keras variable's tf.Variable (not autocast)
    if variable is None:
        variable = getattr(kernel, "value", kernel)
    try:
        name = getattr(variable, "device", "") or ""
    except (AttributeError, RuntimeError, ValueError):  # symbolic or not yet created
        name = ""
    tf = backend.tensorflow()
    if name:
        spec = tf.DeviceSpec.from_string(name)
        if spec.device_type:
            return spec.device_type.upper()
    return "GPU" if tf.config.list_logical_devices("GPU") else "CPU"


def use_tuned_paths(kernel=None) -> bool:
    """Whether a layer whose kernel is `kernel` may use the CPU-tuned (TensorFlow) paths."""
    if not backend.is_tensorflow():
        return False
    mode = conv_paths_mode()
    if mode != "auto":
        return mode == "tuned"
    return device_type(kernel) in TUNED_DEVICE_TYPES

"""ImageNet-C corruptions as TF ops (``mode='fast'``) or as the published NumPy protocol
(``mode='reference'``, needs the ``robustness`` extra).

>>> from assembled_cnn.robustness.corruptions import corrupt, CORRUPTIONS
>>> out = corrupt(image_uint8_hwc, "motion_blur", severity=3, seed=0, index=17)
"""

from __future__ import annotations

import tensorflow as tf

from assembled_cnn.robustness.corruptions.registry import (
    COMMON_CORRUPTIONS, CORRUPTIONS, EXTRA_CORRUPTIONS, MIN_SIDE, MODES, SPECS,
    CorruptionSpec, _check_severity, _compiled, get_corruption_names, get_spec,
    image_seeds, run_fast, to_output)

__all__ = ["corrupt", "CORRUPTIONS", "COMMON_CORRUPTIONS", "EXTRA_CORRUPTIONS",
           "get_corruption_names", "get_spec", "CorruptionSpec", "image_seeds"]

def _check_shape(shape: tf.TensorShape) -> None:
    if shape.rank not in (3, 4):
        raise ValueError(f"images must be [H, W, C] or [B, H, W, C]; got shape {shape}")
    height, width, channels = shape[-3], shape[-2], shape[-1]
    if channels not in (1, 3):
        raise ValueError(f"images must have 1 (grayscale) or 3 channels; got shape {shape}")
    for side in (height, width):
        if side is not None and side < MIN_SIDE:
            raise ValueError(f"images must be at least {MIN_SIDE}x{MIN_SIDE} px; got shape {shape}")


def corrupt(images, name: str, severity: int, seed: int = 0, index=0,
            mode: str = "fast") -> tf.Tensor:
    """Corrupt ``[H, W, C]`` or ``[B, H, W, C]`` images (uint8 or float in 0..255, C in {1, 3},
    H, W >= 32) with corruption ``name`` at ``severity`` 1..5.

    Deterministic given (``seed``, ``index``): image b of a batch uses index ``index + b``.
    Returns a tensor of the input's shape and dtype. ``mode='fast'`` is TF-only (usable
    inside ``tf.data``); ``mode='reference'`` runs the published NumPy code eagerly.
    """
    spec = get_spec(name)
    severity = _check_severity(severity)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
    images = tf.convert_to_tensor(images)
    _check_shape(images.shape)
    batched = images if images.shape.rank == 4 else images[None]
    if mode == "reference":
        from assembled_cnn.robustness.corruptions.reference import corrupt_reference_batch

        out255 = tf.constant(corrupt_reference_batch(
            batched.numpy(), name, severity, seed=seed, index=int(index)), tf.float32)
        out = to_output(out255, images.dtype)
    elif tf.executing_eagerly():
        out = _compiled(name, severity)(batched, tf.constant(seed, tf.int64),
                                        tf.cast(index, tf.int64))
    else:
        out = run_fast(name, batched, seed, index, severity)
    return out if images.shape.rank == 4 else out[0]

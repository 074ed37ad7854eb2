"""Every preset of the zoo through every export format, at tiny width: does it export, and does
the export agree with the Keras model?

One preset at its own depth (ResNets ``num_filters=8``, MobileNets / EfficientNet-Lite width
0.25), random weights, BN folded as the exporters serve it, is written as a SavedModel (with its
serving signatures), TFLite float32, full-integer int8 TFLite and ONNX. Each export is loaded
back through `runtime.load_export` (what ``predict`` uses) and its logits compared with the Keras
model's (`check.compare`). Used by the test suite (every preset, every format) and by
``benchmarks/export_zoo.py`` (the table in docs/deployment.md).

With random weights the int8 figures say only that the full-integer model runs and gives finite
logits of the right shape: a random network's class signal is too small for its top-1 to survive
quantisation noise. Int8 agreement on trained networks is tests/deploy/test_zoo_exports.py's job.
"""

from __future__ import annotations

import os
import time

import keras
import numpy as np

from assembled_cnn import export as saved
from assembled_cnn.deploy import check, convert, data, runtime
from assembled_cnn.nets import build_model
from assembled_cnn.preprocessing import get_preset

FORMATS = ("saved_model", "tflite", "tflite_int8", "onnx")
TINY_RESNET_FILTERS = 8
TINY_WIDTH_MULTIPLIER = 0.25


def tiny_preset(name: str, size: int = 32, num_classes: int = 10) -> keras.Model:
    """Preset `name` at its own depth and a tiny width, random weights."""
    width = (dict(num_filters=TINY_RESNET_FILTERS) if "resnet" in name
             else dict(width_multiplier=TINY_WIDTH_MULTIPLIER))
    return build_model(name, num_classes=num_classes, input_size=size, **width)


class _Served:
    """The BN-folded network as the converters take it, frozen once for all of them."""

    def __init__(self, model: keras.Model, shape: tuple[int, int, int]):
        self.model, self.shape, self._frozen, self._error = model, shape, None, None

    @property
    def frozen(self):
        """The frozen logits function; a network that cannot be frozen fails every converted
        format with the same one-line reason (tried once)."""
        if self._error is None and self._frozen is None:
            try:
                self._frozen = convert.frozen_logits(self.model, self.shape)
            except Exception as error:  # tracing or constant folding broke
                self._error = convert.ConversionError(f"{self.model.name}: cannot be frozen for conversion: "
                                                      f"{one_line(error)}")
        if self._error is not None:
            raise self._error
        return self._frozen


def _write(model: keras.Model, served: _Served, fmt: str, images: np.ndarray, folder: str) -> str:
    """The export's path (a directory for the SavedModel, a file otherwise)."""
    shape = served.shape
    if fmt == "saved_model":
        size = images.shape[1]  # only recorded in export_info.json (logits are compared), but it must fit
        preprocess = get_preset("cifar", train_size=size, eval_size=size)
        return saved.export_saved_model(model, os.path.join(folder, f"{model.name}_saved_model"), preprocess)
    if fmt == "onnx":
        blob = convert.to_onnx(served.model, shape, frozen=served.frozen)
        path = os.path.join(folder, f"{model.name}.onnx")
    else:
        calibration = data.representative_dataset(images) if fmt == "tflite_int8" else None
        blob = convert.to_tflite(served.model, shape, calibration, frozen=served.frozen)
        path = os.path.join(folder, f"{model.name}_{fmt}.tflite")
    with open(path, "wb") as handle:
        handle.write(blob)
    return path


def export_one(model: keras.Model, served: _Served, fmt: str, images: np.ndarray, folder: str) -> dict:
    """Write `model` in `fmt`, load it back, compare its logits with Keras' on `images`.

    Returns the `check.compare` figures plus ``status`` (``ok``; ``fails`` with the converter's
    one-line ``reason``; ``error`` when writing or loading broke otherwise: the other formats go
    on), ``seconds`` and ``logits_finite``. Int8 on random weights: ``passed`` means finite logits
    of the right shape (the agreement figures are kept, but say nothing here)."""
    start = time.perf_counter()
    try:
        path = _write(model, served, fmt, images, folder)
        exported = runtime.load_export(path).logits(images)
    except convert.ConversionError as error:
        return {"format": fmt, "status": "fails", "reason": str(error), "seconds": time.perf_counter() - start}
    except Exception as error:  # reported for this format; the preset's other formats go on
        return {"format": fmt, "status": "error", "reason": one_line(error), "seconds": time.perf_counter() - start}
    result = check.compare(model(images, training=False).numpy(), exported, None, fmt == "tflite_int8")
    finite = bool(np.all(np.isfinite(exported)))
    result.update(format=fmt, status="ok", seconds=time.perf_counter() - start,
                  logits_shape=list(np.shape(exported)), logits_finite=finite)
    if fmt == "tflite_int8":
        result.update(criterion="finite logits of shape (images, classes) (random weights)",
                      passed=finite and result["logits_shape"] == [len(images), model.output_shape[-1]])
    return result


def first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


def one_line(error: BaseException) -> str:
    """`TypeName: first line of the message`."""
    return f"{type(error).__name__}: {first_line(str(error))}"


def _errors(formats, error: BaseException) -> dict[str, dict]:
    """Every format of a preset that could not be exported at all, with the one-line reason."""
    return {fmt: {"format": fmt, "status": "error", "reason": one_line(error), "seconds": 0.0} for fmt in formats}


def export_preset(name: str, images: np.ndarray, folder: str, formats=FORMATS) -> dict[str, dict]:
    """Every format of preset `name` (tiny width, at `images`' size) → {format: result}."""
    model = tiny_preset(name, images.shape[1])
    served = _Served(saved._folded_if_possible(model), tuple(images.shape[1:]))
    return {fmt: export_one(model, served, fmt, images, folder) for fmt in formats}


def cell(result: dict) -> str:
    """One table cell: the float agreement, or the int8 model's size-free verdict, or the reason."""
    if result["status"] != "ok":
        return "fails: " + first_line(result["reason"])
    if result["format"] == "tflite_int8":
        return "ok (runs, finite)" if result["logits_finite"] else "NON-FINITE"
    verdict = "ok" if result["passed"] else "MISMATCH"
    return f"{verdict} ({result['max_rel_diff_logits']:.1e})"


def _export_preset_isolated(name: str, images: np.ndarray, formats) -> dict[str, dict]:
    """`export_preset` in a worker process: any failure becomes a one-line ``error`` result."""
    import tempfile

    try:
        with tempfile.TemporaryDirectory() as folder:
            return export_preset(name, images, folder, formats)
    except Exception as error:  # building the preset broke: reported per preset, the others go on
        return _errors(formats, error)


def _cost(name: str) -> int:
    """Rough conversion cost (depth), so that the slowest presets start first."""
    from assembled_cnn.nets.registry import model_config

    config = model_config(name)
    return int(config.resnet_size) * (1 + config.use_sk_block) if config.architecture == "resnet" else 0


def export_presets(names, images: np.ndarray, formats=FORMATS, workers: int = 2) -> dict[str, dict[str, dict]]:
    """`export_preset` for every name, in a pool of `workers` spawned processes (each exports one
    preset after another): the converters (TFLite's MLIR passes, tf2onnx) run on one core each, so
    two workers halve the wall time on two cores."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ordered = sorted(names, key=_cost, reverse=True)
    context = multiprocessing.get_context("spawn")  # TF is not fork-safe once initialised
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {name: pool.submit(_export_preset_isolated, name, images, tuple(formats)) for name in ordered}
        return {name: _result_or_error(futures[name], formats) for name in names}


def _result_or_error(future, formats) -> dict[str, dict]:
    """A worker that died (a converter crashing the process) costs its preset, not the table."""
    try:
        return future.result()
    except Exception as error:  # BrokenProcessPool and the like
        return _errors(formats, error)

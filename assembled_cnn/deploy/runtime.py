"""Run any export on a preprocessed float batch: SavedModel, TFLite (LiteRT) or ONNX Runtime.

``load_export(path)`` takes an export directory written by ``python -m assembled_cnn.export`` (or
the .tflite / .onnx file in it) and returns an `ExportRunner` whose ``logits(images)`` maps
float32 NHWC images (the preset in ``info`` applied) to float32 logits. An int8 TFLite model is
fed and read through its tensors' scale and zero point.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np

TFLITE_FILE = "model.tflite"
ONNX_FILE = "model.onnx"
INFO_FILE = "export_info.json"
LogitsFn = Callable[[np.ndarray], np.ndarray]


@dataclass
class ExportRunner:
    format: str  # 'saved_model' | 'tflite' | 'tflite_int8' | 'onnx'
    path: str
    logits: LogitsFn
    info: dict


def export_format(path: str) -> tuple[str, str]:
    """(format, model file or SavedModel dir) of an export directory or model file."""
    if os.path.isfile(path):
        kind = {".tflite": "tflite", ".onnx": "onnx"}.get(os.path.splitext(path)[1])
        if kind is None:
            raise ValueError(f"{path!r} is not a .tflite or .onnx file nor an export directory")
        return kind, path
    for name, kind in ((TFLITE_FILE, "tflite"), (ONNX_FILE, "onnx")):
        if os.path.isfile(os.path.join(path, name)):
            return kind, os.path.join(path, name)
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return "saved_model", path
    raise FileNotFoundError(f"{path!r} holds no export (saved_model.pb, {TFLITE_FILE} or "
                            f"{ONNX_FILE}); write one with python -m assembled_cnn.export")


def read_info(kind: str, model_path: str) -> dict:
    folder = model_path if kind == "saved_model" else os.path.dirname(model_path)
    for candidate in (os.path.join(folder, INFO_FILE), os.path.join(folder, "assets", INFO_FILE)):
        if os.path.isfile(candidate):
            with open(candidate, encoding="utf-8") as handle:
                return json.load(handle)
    return {}


def _tflite_interpreter(model_path: str, num_threads: int | None, default_delegates: bool = True):
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:  # TensorFlow's own copy (deprecated, still in 2.21)
        import tensorflow as tf
        Interpreter, OpResolverType = tf.lite.Interpreter, tf.lite.experimental.OpResolverType
    options = {} if default_delegates else {
        "experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    return Interpreter(model_path=model_path, num_threads=num_threads, **options)


def _tflite_logits(model_path: str, num_threads: int | None) -> tuple[LogitsFn, bool]:
    state = {"interpreter": _tflite_interpreter(model_path, num_threads), "shape": None}
    source = state["interpreter"].get_input_details()[0]
    quantized = source["dtype"] == np.int8

    def allocate(shape) -> None:
        """XNNPACK refuses some models it cannot build a runtime for (seen with an int8 model whose
        SE block has a dead unit); the reference kernels then run it, with a one-line note."""
        try:
            state["interpreter"].resize_tensor_input(source["index"], list(shape))
            state["interpreter"].allocate_tensors()
        except RuntimeError as error:
            if "XNNPACK" not in str(error):
                raise
            print(f"note: XNNPACK cannot run {model_path} ({str(error).strip().splitlines()[0]}); using TFLite's "
                  "reference kernels (slower)", file=sys.stderr)
            state["interpreter"] = _tflite_interpreter(model_path, num_threads, default_delegates=False)
            state["interpreter"].resize_tensor_input(source["index"], list(shape))
            state["interpreter"].allocate_tensors()

    def logits(images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, np.float32)
        if state["shape"] != images.shape:
            allocate(images.shape)
            state["shape"] = images.shape
        interpreter = state["interpreter"]
        feed = _quantize(images, source) if quantized else images
        interpreter.set_tensor(source["index"], feed)
        interpreter.invoke()
        target = interpreter.get_output_details()[0]
        out = interpreter.get_tensor(target["index"])
        return _dequantize(out, target) if quantized else out.astype(np.float32)
    return logits, quantized


def _quantize(values: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero = detail["quantization"]
    return np.clip(np.round(values / scale + zero), -128, 127).astype(np.int8)


def _dequantize(values: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero = detail["quantization"]
    return ((values.astype(np.float32) - zero) * scale).astype(np.float32)


def _onnx_logits(model_path: str, num_threads: int | None) -> LogitsFn:
    try:
        import onnxruntime
    except ImportError as error:
        raise ValueError("running an ONNX export needs onnxruntime: pip install onnxruntime") from error
    options = onnxruntime.SessionOptions()
    if num_threads:
        options.intra_op_num_threads = num_threads
    session = onnxruntime.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda images: session.run(None, {name: np.asarray(images, np.float32)})[0]


def _saved_model_logits(export_dir: str) -> LogitsFn:
    import tensorflow as tf

    loaded = tf.saved_model.load(export_dir)
    return lambda images: loaded(tf.constant(images, tf.float32)).numpy()


def load_export(path: str, num_threads: int | None = None) -> ExportRunner:
    """The runner of an export; `num_threads` for TFLite / ONNX Runtime (None: their default)."""
    kind, model_path = export_format(path)
    info = read_info(kind, model_path)
    if kind == "tflite":
        logits, quantized = _tflite_logits(model_path, num_threads)
        kind = "tflite_int8" if quantized else kind
    elif kind == "onnx":
        logits = _onnx_logits(model_path, num_threads)
    else:
        logits = _saved_model_logits(model_path)
    return ExportRunner(kind, model_path, logits, info)


EVAL_FIELDS = ("name", "family", "train_size", "eval_size", "eval_crop_rule", "eval_resize",
               "normalization", "means", "stds", "decode_channels", "output_channels", "dct_method",
               "cifar_padding")


def eval_preprocess(info: dict):
    """The eval preprocessing recorded in an export's info (training-only fields left default)."""
    from assembled_cnn.preprocessing import PreprocessConfig, get_preset

    recorded = info.get("preprocessing")
    if not isinstance(recorded, dict):
        if not info.get("preprocessing_type"):
            raise ValueError("the export records no preprocessing (no export_info.json beside it); "
                             "re-export it with python -m assembled_cnn.export")
        return get_preset(info["preprocessing_type"])
    values = {key: recorded[key] for key in EVAL_FIELDS if key in recorded}
    for key in ("means", "stds"):
        if key in values:
            values[key] = tuple(values[key])
    return PreprocessConfig(**values)

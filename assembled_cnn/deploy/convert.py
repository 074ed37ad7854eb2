"""A Keras classifier → TFLite (float32 or full-integer int8) or ONNX bytes.

Both converters start from the same frozen graph: the network's logits for a float32 NHWC batch
(``training=False``: DropBlock is the identity, BN uses its moving statistics), with the variables
folded into constants. TFLite's converter keeps variables as resource reads otherwise, which the
LiteRT interpreter cannot run.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Callable, Iterable

import keras
import numpy as np
import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from assembled_cnn.errors import UserError

ONNX_OPSET = 17
INPUT_NAME = "images"
RepresentativeData = Callable[[], Iterable[list[np.ndarray]]]


class ConversionError(UserError):
    """The network cannot be written in the asked format; the message says why, in one line."""


def logits_function(model: keras.Model, input_shape: tuple[int, int, int]) -> tf.types.experimental.PolymorphicFunction:
    """The network's float32 logits of a preprocessed batch, as a tf.function with a fixed signature."""
    spec = tf.TensorSpec([None, *input_shape], tf.float32, name=INPUT_NAME)
    return tf.function(lambda images: tf.cast(model(images, training=False), tf.float32),
                       input_signature=[spec])


def frozen_logits(model: keras.Model, input_shape: tuple[int, int, int]):
    """The concrete logits function with every variable turned into a constant."""
    return convert_variables_to_constants_v2(logits_function(model, input_shape).get_concrete_function())


def _one_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    for line in lines:  # the converter's own diagnosis, without its MLIR location noise
        if "error:" in line:
            return line.split("error:", 1)[1].strip()
    return lines[0] if lines else type(error).__name__


def to_tflite(model: keras.Model, input_shape: tuple[int, int, int],
              representative: RepresentativeData | None = None, frozen=None) -> bytes:
    """TFLite flatbuffer: float32, or with `representative` full-integer int8 (int8 input and
    output tensors with their scale / zero point; every op int8, or a ConversionError).
    frozen: `frozen_logits(model, input_shape)` when the caller already has it (tracing a deep
    network takes seconds)."""
    frozen = frozen if frozen is not None else frozen_logits(model, input_shape)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    if representative is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    try:
        return converter.convert()
    except Exception as error:  # the converter raises ConverterError, RuntimeError, ValueError
        kind = "int8 TFLite" if representative is not None else "TFLite"
        raise ConversionError(f"{model.name}: no {kind} conversion: {_one_line(error)}") from error


def to_onnx(model: keras.Model, input_shape: tuple[int, int, int], opset: int = ONNX_OPSET,
            frozen=None) -> bytes:
    """ONNX model (tf2onnx from the frozen logits graph), input ``images`` NHWC float32.
    frozen: as for `to_tflite`."""
    try:
        import tf2onnx
    except ImportError as error:
        raise ConversionError("ONNX export needs tf2onnx and onnx: pip install tf2onnx onnx") from error
    try:
        frozen = frozen if frozen is not None else frozen_logits(model, input_shape)
        (tensor_input,), outputs = frozen.inputs, frozen.outputs
        with _tensorflow_log_level(logging.ERROR):  # tf2onnx's TF1 calls log deprecation notices
            proto, _ = tf2onnx.convert.from_graph_def(
                frozen.graph.as_graph_def(), input_names=[tensor_input.name],
                output_names=[tensor.name for tensor in outputs], opset=opset)
    except Exception as error:  # tf2onnx raises many kinds
        raise ConversionError(f"{model.name}: no ONNX conversion: {_one_line(error)}") from error
    _rename_input(proto.graph, tensor_input.name, INPUT_NAME)
    return proto.SerializeToString()


@contextlib.contextmanager
def _tensorflow_log_level(level: int):
    logger = logging.getLogger("tensorflow")
    previous = logger.level
    logger.setLevel(max(level, previous))
    try:
        yield
    finally:
        logger.setLevel(previous)


def _rename_input(graph, old: str, new: str) -> None:
    """`images:0` (the graph tensor's name) → `images`, the name users and export_info give."""
    for value in graph.input:
        if value.name == old:
            value.name = new
    for node in graph.node:
        for index, name in enumerate(node.input):
            if name == old:
                node.input[index] = new

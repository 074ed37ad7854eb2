"""Export a trained network as one SavedModel that serves encoded images and float batches,
or as TFLite (float32 / full-integer int8) or ONNX, each checked against the Keras model.

    python -m assembled_cnn.export --model_dir M --export_dir E \
        [--format saved_model|tflite|tflite_int8|onnx] [--data_dir D] \
        [--preprocessing_type imagenet_224_256] [--label_map dataset_info.json] [--overwrite]

The TFLite and ONNX layouts, the int8 calibration and the check (``E/export_check.json``) are
described in `assembled_cnn.deploy.formats`.

The original (`utils/export_utils.py:export_pb`) wrote two SavedModels, `binary_input/` and
`preprocessed_input/`. Here one SavedModel carries both as signatures:

* ``serving_bytes``: ``image_bytes`` tf.string [None] (JPEG/PNG/BMP/GIF) → the preset's eval
  preprocessing → the outputs below (the original's ``binary_input``);
* ``serving_default`` = ``serving_float``: ``images`` float32 [None, H, W, C], already
  preprocessed (the original's ``preprocessed_input``);

outputs: ``logits`` float32 [None, K], ``probabilities`` (softmax), ``classes`` int64 [None],
``top5_classes`` int64 [None, min(5, K)], ``top5_probabilities``, and with class names
``class_names`` (name of the top-1 class) and ``top5_class_names``, and ``embedding`` float32
[None, D] (the `features` layer: the retrieval embedding of `--zeroshot_eval`) when the network
has one. Calling the loaded object
directly (``loaded(images)``) returns the logits of a preprocessed batch.
``assets/export_info.json`` records the model config, the preprocessing and the class names.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
from typing import Sequence

import keras
import tensorflow as tf

from assembled_cnn.errors import UserError
from assembled_cnn.nets.fold import fold_batch_norm
from assembled_cnn.nets import model_info
from assembled_cnn.nets.model_info import is_batch_norm_folded
from assembled_cnn.preprocessing import PreprocessConfig, preprocess_image
from assembled_cnn.retrieval.evaluate import with_embedding_output
from assembled_cnn.utils.io import write_json_atomic

EXPORT_INFO_FILE = "export_info.json"
EXPORT_FORMAT_VERSION = 1
BYTES_SIGNATURE = "serving_bytes"
FLOAT_SIGNATURE = "serving_float"
DEFAULT_SIGNATURE = "serving_default"
TOP_K = 5


class ExportError(UserError):
    """The export cannot be written as asked; the message says which argument to change."""


# ----------------------------------------------------------------------------- label maps

def load_class_names(path: str, num_classes: int | None = None) -> list[str]:
    """Class names from a label map: a ``dataset_info.json`` (its ``label_map``), a JSON
    ``{"index": name}`` object or list, or a text file with one name per line.

    Indices missing from a map (e.g. ImageNet's background class 0) are named by their number.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"label map {path!r} not found (pass a dataset_info.json, a JSON "
                                "{index: name} file or a text file with one class name per line)")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if path.endswith(".json"):
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"label map {path!r} is not valid JSON: {error}") from None
        names = _names_from_json(payload, path)
    else:
        names = {i: line.strip() for i, line in enumerate(text.splitlines()) if line.strip()}
    size = num_classes if num_classes is not None else (max(names) + 1 if names else 0)
    if names and max(names) >= size:
        raise ValueError(f"label map {path!r} names class {max(names)} but the model has "
                         f"{size} classes; pass the label map of the dataset the model was trained on")
    return [names.get(i, str(i)) for i in range(size)]


def _names_from_json(payload, path: str) -> dict[int, str]:
    if isinstance(payload, dict) and "label_map" in payload:
        payload = payload["label_map"]
    if isinstance(payload, list):
        return {i: str(name) for i, name in enumerate(payload)}
    if isinstance(payload, dict):
        try:
            return {int(key): str(name) for key, name in payload.items()}
        except ValueError:
            pass
    raise ValueError(f"label map {path!r} must be a list of names, an object {{\"0\": name, ...}} "
                     "or a dataset_info.json with a 'label_map' entry")


# ----------------------------------------------------------------------------- the module

def _raw_variable(variable):
    """The tf.Variable behind a Keras 3 variable (Keras variables save much more slowly)."""
    raw = getattr(variable, "value", None)
    return raw if isinstance(raw, tf.Variable) else variable


class ServingModule(tf.Module):
    """A Keras classifier plus its eval preprocessing, as tf.functions ready for saving."""

    def __init__(self, model: keras.Model, preprocess: PreprocessConfig,
                 class_names: Sequence[str] | None = None):
        super().__init__(name="assembled_cnn_serving")
        # Track the raw tf.Variables, not the Keras object graph: saving walks every tracked
        # object, and the ~800 layers of an Assemble-ResNet make that several times slower.
        object.__setattr__(self, "_model", model)
        self.model_variables = [_raw_variable(v) for v in model.variables]
        self._preprocess = preprocess
        self._class_names = tf.constant(list(class_names)) if class_names else None
        self._top_k = min(TOP_K, int(model.output_shape[-1]))
        float_spec = tf.TensorSpec([None, *preprocess.output_shape(False)], tf.float32, name="images")
        bytes_spec = tf.TensorSpec([None], tf.string, name="image_bytes")
        # The network is traced once (_forward); __call__ and the signatures call that function.
        object.__setattr__(self, "_network", with_embedding_output(model) or model)
        self._forward = tf.function(self._logits_and_embedding, input_signature=[float_spec])
        self.__call__ = tf.function(lambda images: self._forward(images)[0], input_signature=[float_spec])
        self.serve_float = tf.function(self._outputs, input_signature=[float_spec])
        self.serve_bytes = tf.function(self._outputs_from_bytes, input_signature=[bytes_spec])

    def _logits_and_embedding(self, images):
        outputs = self._network(images, training=False)
        if not isinstance(outputs, (list, tuple)):
            return tf.cast(outputs, tf.float32), None
        return tf.cast(outputs[0], tf.float32), tf.cast(outputs[1], tf.float32)

    def _outputs(self, images) -> dict[str, tf.Tensor]:
        logits, embedding = self._forward(images)
        probabilities = tf.nn.softmax(logits, axis=-1)
        top = tf.math.top_k(probabilities, k=self._top_k)
        outputs = {
            "logits": logits,
            "probabilities": probabilities,
            "classes": tf.argmax(logits, axis=-1, output_type=tf.int64),
            "top5_classes": tf.cast(top.indices, tf.int64),
            "top5_probabilities": top.values,
        }
        if embedding is not None:
            outputs["embedding"] = embedding
        if self._class_names is not None:
            outputs["class_names"] = tf.gather(self._class_names, outputs["classes"])
            outputs["top5_class_names"] = tf.gather(self._class_names, top.indices)
        return outputs

    def _outputs_from_bytes(self, image_bytes) -> dict[str, tf.Tensor]:
        images = tf.map_fn(lambda one: preprocess_image(one, False, self._preprocess), image_bytes,
                           fn_output_signature=tf.TensorSpec(self._preprocess.output_shape(False),
                                                             tf.float32))
        return self._outputs(images)

    def signatures(self) -> dict:
        """The tf.functions, not their concrete functions: `tf.saved_model.save` traces them in its
        save context, so tracing them here first would trace the network twice."""
        return {DEFAULT_SIGNATURE: self.serve_float, FLOAT_SIGNATURE: self.serve_float,
                BYTES_SIGNATURE: self.serve_bytes}


# ----------------------------------------------------------------------------- writing

def _check_compatible(model: keras.Model, preprocess: PreprocessConfig,
                      class_names: Sequence[str] | None) -> None:
    height, width, channels = model.input_shape[1:]
    size = preprocess.image_size(False)
    if channels is not None and channels != preprocess.output_channels:
        raise ExportError(f"the model takes {channels}-channel images but preprocessing "
                          f"{preprocess.name!r} gives {preprocess.output_channels}")
    if (height, width) not in ((None, None), (size, size)):
        raise ExportError(f"the model takes {height}x{width} images but preprocessing "
                          f"{preprocess.name!r} evaluates at {size}x{size}; pass "
                          f"--preprocessing_type=imagenet_{height} (or a preset of that size)")
    num_classes = int(model.output_shape[-1])
    if class_names is not None and len(class_names) != num_classes:
        raise ExportError(f"{len(class_names)} class names given for a model with "
                          f"{num_classes} classes")


def _prepare_destination(export_dir: str, overwrite: bool) -> None:
    if os.path.isfile(export_dir):
        raise ExportError(f"export_dir {export_dir!r} is a file; choose a directory path")
    if os.path.isdir(export_dir) and os.listdir(export_dir) and not overwrite:
        raise ExportError(f"export_dir {export_dir!r} is not empty; pass overwrite=True "
                          "(--overwrite) to replace it, or choose another directory")


def _make_readable(*paths: str) -> None:
    """mkdtemp/mkstemp create owner-only entries; give them the usual umask permissions."""
    umask = os.umask(0)
    os.umask(umask)
    for path in paths:
        os.chmod(path, (0o777 if os.path.isdir(path) else 0o666) & ~umask)


def _move_into_place(staging: str, export_dir: str, overwrite: bool) -> None:
    """Rename the finished export over `export_dir`; an old export is removed only afterwards."""
    old = None
    if os.path.isdir(export_dir):
        if os.listdir(export_dir):
            _prepare_destination(export_dir, overwrite)  # filled while we were exporting?
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(export_dir)}.old-",
                                   dir=os.path.dirname(export_dir))
            os.rmdir(old)
            os.rename(export_dir, old)
        else:
            os.rmdir(export_dir)
    os.rename(staging, export_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def export_info_payload(model: keras.Model, preprocess: PreprocessConfig,
                        class_names: Sequence[str] | None, source: dict | None = None) -> dict:
    try:
        config = model_info(model).config.to_dict()
    except ValueError:  # a Keras model not built by assembled_cnn: still exportable
        config = None
    return {
        "format_version": EXPORT_FORMAT_VERSION,
        "model_config": config,
        "preprocessing_type": preprocess.name,
        "preprocessing": dataclasses.asdict(preprocess),
        "input_shape": list(preprocess.output_shape(False)),
        "num_classes": int(model.output_shape[-1]),
        "batch_norm_folded": is_batch_norm_folded(model),
        "class_names": list(class_names) if class_names else None,
        "signatures": {BYTES_SIGNATURE: "image_bytes: string [None]",
                       FLOAT_SIGNATURE: "images: float32 [None, H, W, C] preprocessed",
                       DEFAULT_SIGNATURE: f"same as {FLOAT_SIGNATURE}"},
        "source": source or {},
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
    }


def _folded_if_possible(model: keras.Model) -> keras.Model:
    try:
        return fold_batch_norm(model)
    except ValueError:  # a subclassed Keras model: nothing to fold into
        return model


def export_saved_model(model: keras.Model, export_dir: str, preprocess: PreprocessConfig,
                       class_names: Sequence[str] | None = None, overwrite: bool = False,
                       source: dict | None = None, fold_bn: bool = True) -> str:
    """Write `model` with its serving signatures to `export_dir` (atomically); returns the path.

    fold_bn: serve the model with its BatchNorms folded into the convolutions (nets.fold), which
    is faster and equal up to float round-off; a model that cannot be folded is served as is.

    The SavedModel is written to a temporary directory beside `export_dir` and renamed into place,
    so a crash never leaves a half-written export where a server would load it.
    """
    export_dir = os.path.abspath(export_dir)
    _prepare_destination(export_dir, overwrite)
    class_names = list(class_names) if class_names else None
    _check_compatible(model, preprocess, class_names)
    parent = os.path.dirname(export_dir)
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=f".{os.path.basename(export_dir)}.tmp-", dir=parent)
    serving_model = _folded_if_possible(model) if fold_bn else model
    try:
        module = ServingModule(serving_model, preprocess, class_names)
        tf.saved_model.save(module, staging, signatures=module.signatures())
        info_path = os.path.join(staging, "assets", EXPORT_INFO_FILE)
        write_json_atomic(info_path, export_info_payload(serving_model, preprocess, class_names, source))
        _make_readable(staging, info_path)
        _move_into_place(staging, export_dir, overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return export_dir


def load_export_info(export_dir: str) -> dict:
    """The `assets/export_info.json` of an export written by `export_saved_model`."""
    path = os.path.join(export_dir, "assets", EXPORT_INFO_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} not found: {export_dir!r} was not written by "
                                "python -m assembled_cnn.export")
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def export_from_model_dir(model_dir: str, export_dir: str, preprocessing_type: str | None = None,
                          checkpoint: str | None = None, label_map: str | None = None,
                          class_names: Sequence[str] | None = None, overwrite: bool = False) -> str:
    """Export `model_dir` as its run evaluated it (`experiment.load_experiment`: recorded
    preprocessing, the EMA weights when the run kept them, its class names), or a given checkpoint."""
    from assembled_cnn.experiment import load_experiment

    experiment = load_experiment(model_dir, checkpoint=checkpoint, preprocessing_type=preprocessing_type)
    model, preprocess = experiment.model, experiment.preprocess
    if class_names is None:
        class_names = (load_class_names(label_map, int(model.output_shape[-1])) if label_map is not None
                       else experiment.class_names)
    source = {"model_dir": os.path.abspath(model_dir), "checkpoint": experiment.checkpoint,
              "weights": experiment.weights, "label_map": os.path.abspath(label_map) if label_map else None}
    return export_saved_model(model, export_dir, preprocess, class_names, overwrite, source)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", required=True, help="model_dir with model_config.json")
    parser.add_argument("--export_dir", required=True, help="output SavedModel directory")
    parser.add_argument("--preprocessing_type", default=None,
                        help="eval preset, e.g. imagenet_224_256 (default: the one recorded in "
                             "MODEL_DIR/hparams.json, else imagenet, or imagenet_N for a "
                             "model fixed to N px)")
    parser.add_argument("--checkpoint", default=None, help="checkpoint path (default: latest)")
    parser.add_argument("--label_map", default=None,
                        help="dataset_info.json, JSON {index: name} or one name per line")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty export_dir")
    parser.add_argument("--format", default="saved_model",
                        choices=("saved_model", "tflite", "tflite_int8", "onnx"))
    parser.add_argument("--data_dir", default=None,
                        help="TFRecords whose validation split calibrates int8 and checks the export "
                             "(default: the data_dir recorded in MODEL_DIR/hparams.json)")
    parser.add_argument("--num_check_images", type=int, default=64,
                        help="validation images the export is checked on")
    parser.add_argument("--num_calibration_images", type=int, default=200,
                        help="further validation images that calibrate tflite_int8")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from assembled_cnn.deploy import formats

    request = formats.ExportRequest(args.model_dir, args.export_dir, args.format, args.preprocessing_type,
                                    args.checkpoint, args.label_map, args.data_dir, args.num_check_images,
                                    args.num_calibration_images, args.overwrite)
    try:
        path, result = formats.export_format(request)
    except (OSError, ValueError, tf.errors.OpError) as error:  # Export/ConversionError: ValueErrors
        print(f"error: {error}", file=sys.stderr)
        return 2
    kind = (f"signatures {DEFAULT_SIGNATURE}, {FLOAT_SIGNATURE}, {BYTES_SIGNATURE}"
            if args.format == "saved_model" else args.format)
    print(f"exported {args.model_dir} to {path} ({kind}); {formats.describe(result)}")
    return 1 if result is not None and not result["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())

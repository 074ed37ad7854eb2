"""Classify image files with a model_dir or an export and print the top classes.

    python -m assembled_cnn.predict --model_dir M cat.jpg dog.png [--top_k 5]
        [--label_map dataset_info.json] [--preprocessing_type imagenet_224_256]
    python -m assembled_cnn.predict --saved_model E cat.jpg      # a SavedModel export
    python -m assembled_cnn.predict --export E cat.jpg           # any export: SavedModel, TFLite, ONNX

A TFLite or ONNX export takes preprocessed images: the preset recorded in its export_info.json
is applied here, with the same TF ops as the SavedModel's ``serving_bytes``.

A missing or undecodable file is reported on stderr by name; the other images are still
printed and the exit status is 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from assembled_cnn.experiment import load_experiment
from assembled_cnn.export import BYTES_SIGNATURE, load_class_names, load_export_info
from assembled_cnn.nets.fold import fold_batch_norm
from assembled_cnn.preprocessing import preprocess_image

ProbabilityFn = Callable[[bytes], np.ndarray]  # encoded image → probabilities [K]


@dataclass(frozen=True)
class ClassScore:
    index: int
    probability: float
    name: str | None = None


@dataclass(frozen=True)
class ImagePrediction:
    """The top classes of one file, or why it could not be classified."""

    path: str
    top: list[ClassScore] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Predictor:
    probabilities: ProbabilityFn
    num_classes: int
    class_names: list[str] | None
    description: str


def _from_model_dir(model_dir: str, preprocessing_type: str | None,
                    checkpoint: str | None) -> Predictor:
    experiment = load_experiment(model_dir, checkpoint=checkpoint, preprocessing_type=preprocessing_type)
    model, preset = fold_batch_norm(experiment.model), experiment.preprocess
    infer = tf.function(lambda images: tf.nn.softmax(model(images, training=False), axis=-1),
                        input_signature=[tf.TensorSpec([None, *preset.output_shape(False)],
                                                       tf.float32)])

    def probabilities(image_bytes: bytes) -> np.ndarray:
        image = preprocess_image(tf.constant(image_bytes), False, preset)
        return infer(image[tf.newaxis]).numpy()[0]

    return Predictor(probabilities, int(model.output_shape[-1]), experiment.class_names,
                     f"{model_dir} ({preset.name}, {experiment.weights} weights)")


def _from_saved_model(export_dir: str) -> Predictor:
    loaded = tf.saved_model.load(export_dir)
    if BYTES_SIGNATURE not in loaded.signatures:
        raise ValueError(f"SavedModel {export_dir!r} has no {BYTES_SIGNATURE!r} signature; "
                         "export it with python -m assembled_cnn.export")
    serve = loaded.signatures[BYTES_SIGNATURE]
    try:
        info = load_export_info(export_dir)
    except FileNotFoundError:
        info = {}

    def probabilities(image_bytes: bytes) -> np.ndarray:
        return serve(image_bytes=tf.constant([image_bytes]))["probabilities"].numpy()[0]

    name = info.get("preprocessing_type", "its own preprocessing")
    num_classes = int(serve.structured_outputs["probabilities"].shape[-1])
    return Predictor(probabilities, num_classes, info.get("class_names"), f"{export_dir} ({name})")


def _from_converted(path: str) -> Predictor:
    """A TFLite or ONNX export: preprocessing here, the network in LiteRT / ONNX Runtime."""
    from assembled_cnn.deploy.runtime import eval_preprocess, load_export

    runner = load_export(path)
    preset = eval_preprocess(runner.info)

    def probabilities(image_bytes: bytes) -> np.ndarray:
        image = preprocess_image(tf.constant(image_bytes), False, preset).numpy()
        return tf.nn.softmax(runner.logits(image[np.newaxis])[0]).numpy()

    num_classes = int(runner.info.get("num_classes") or _output_size(runner, preset))
    return Predictor(probabilities, num_classes, runner.info.get("class_names"),
                     f"{runner.path} ({runner.format}, {preset.name})")


def _output_size(runner, preset) -> int:
    return len(runner.logits(np.zeros((1, *preset.output_shape(False)), np.float32))[0])


def _from_export(path: str) -> Predictor:
    from assembled_cnn.deploy.runtime import export_format

    kind, _ = export_format(path)
    return _from_saved_model(path) if kind == "saved_model" else _from_converted(path)


def load_predictor(model_dir: str | None = None, saved_model: str | None = None,
                   preprocessing_type: str | None = None, checkpoint: str | None = None,
                   label_map: str | None = None) -> Predictor:
    """A predictor from exactly one of `model_dir` / `saved_model`, with class names if known."""
    if (model_dir is None) == (saved_model is None):
        raise ValueError("give exactly one of --model_dir or --saved_model/--export")
    if saved_model is not None:
        if preprocessing_type is not None or checkpoint is not None:
            raise ValueError("--preprocessing_type and --checkpoint apply to --model_dir only; "
                             "an export carries the preprocessing it was exported with")
        predictor = _from_export(saved_model)
    else:
        predictor = _from_model_dir(model_dir, preprocessing_type, checkpoint)
    if label_map is None and model_dir is not None:
        label_map = _label_map_beside(model_dir)
    if label_map is not None:
        names = load_class_names(label_map, predictor.num_classes)
        predictor = dataclasses.replace(predictor, class_names=names)
    return predictor


def _label_map_beside(model_dir: str) -> str | None:
    """A model_dir may carry the dataset_info.json of its training data."""
    path = os.path.join(model_dir, "dataset_info.json")
    return path if os.path.isfile(path) else None


def _read_image(path: str) -> bytes:
    if not os.path.exists(path):
        raise FileNotFoundError("file not found")
    if not os.path.isfile(path):
        raise IsADirectoryError("not a regular file")
    with open(path, "rb") as handle:
        data = handle.read()
    if not data:
        raise ValueError("the file is empty")
    return data


def _short_reason(error: tf.errors.OpError) -> str:
    """The decoder's own words, without TF's function-node prefix and op suffix."""
    lines = (error.message or "").strip().splitlines()
    reason = re.sub(r"\{\{[^}]*\}\}\s*", "", lines[0] if lines else "")
    return re.sub(r"\s*\[Op:.*$", "", reason).strip() or "decode failed"


def _top_classes(probabilities: np.ndarray, top_k: int,
                 class_names: Sequence[str] | None) -> list[ClassScore]:
    order = np.argsort(-probabilities, kind="stable")[:top_k]
    return [ClassScore(int(i), float(probabilities[i]),
                       class_names[i] if class_names is not None and i < len(class_names) else None)
            for i in order]


def predict_with(predictor: Predictor, paths: Sequence[str], top_k: int = 5) -> list[ImagePrediction]:
    """Classify each file independently, so one bad file does not hide the others."""
    if top_k < 1:
        raise ValueError(f"--top_k must be >= 1, got {top_k}")
    results = []
    for path in paths:
        try:
            probabilities = predictor.probabilities(_read_image(path))
        except (OSError, ValueError) as error:
            results.append(ImagePrediction(path, error=str(error)))
            continue
        except tf.errors.InvalidArgumentError as error:
            results.append(ImagePrediction(
                path, error=f"not a decodable JPEG/PNG/BMP/GIF image ({_short_reason(error)})"))
            continue
        results.append(ImagePrediction(path, _top_classes(probabilities, top_k,
                                                          predictor.class_names)))
    return results


def predict_files(paths: Sequence[str], model_dir: str | None = None, saved_model: str | None = None,
                  top_k: int = 5, label_map: str | None = None,
                  preprocessing_type: str | None = None,
                  checkpoint: str | None = None) -> list[ImagePrediction]:
    """Top-`top_k` classes for each image file (JPEG/PNG/BMP/GIF), in the order given."""
    predictor = load_predictor(model_dir, saved_model, preprocessing_type, checkpoint, label_map)
    return predict_with(predictor, paths, top_k)


def format_prediction(result: ImagePrediction) -> str:
    lines = [result.path]
    for rank, score in enumerate(result.top, start=1):
        name = f"  {score.name}" if score.name is not None else ""
        lines.append(f"  {rank}. class {score.index:>4d}{name}  p={score.probability:.4f}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="JPEG/PNG files")
    parser.add_argument("--model_dir", default=None, help="model_dir with model_config.json")
    parser.add_argument("--saved_model", "--export", dest="saved_model", default=None,
                        help="an export of python -m assembled_cnn.export: SavedModel directory, "
                             "TFLite / ONNX export directory, or its model.tflite / model.onnx")
    parser.add_argument("--top_k", type=int, default=5)
    parser.add_argument("--label_map", default=None,
                        help="dataset_info.json, JSON {index: name} or one name per line "
                             "(default: the export's class names or MODEL_DIR/dataset_info.json)")
    parser.add_argument("--preprocessing_type", default=None,
                        help="eval preset for --model_dir (default: as recorded in "
                             "MODEL_DIR/hparams.json, else imagenet, or imagenet_N)")
    parser.add_argument("--checkpoint", default=None, help="checkpoint of --model_dir (default: latest)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        predictor = load_predictor(args.model_dir, args.saved_model, args.preprocessing_type,
                                   args.checkpoint, args.label_map)
        results = predict_with(predictor, args.images, args.top_k)
    except (OSError, ValueError, tf.errors.OpError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for result in results:
        if result.ok:
            print(format_prediction(result))
        else:
            print(f"error: cannot classify {result.path!r}: {result.error}", file=sys.stderr)
    failed = sum(not r.ok for r in results)
    if failed:
        print(f"{failed} of {len(results)} image(s) could not be classified", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

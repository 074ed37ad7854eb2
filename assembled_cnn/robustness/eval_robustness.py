"""mCE of a model on corrupted sets.

    python -m assembled_cnn.robustness.eval_robustness --saved_model DIR --data_dir C --output_dir O

Model loaders are a registry (``MODEL_LOADERS``) so the trainer's ``--model_dir``
checkpoint loader can be plugged in without touching the evaluation code.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable

import tensorflow as tf

from assembled_cnn.robustness import evaluate, mce, reporting
from assembled_cnn.robustness.corruptions import CORRUPTIONS, get_corruption_names


def load_saved_model(path: str) -> evaluate.PredictFn:
    model = tf.saved_model.load(path)
    if callable(model):
        return lambda images: model(images)
    serving = model.signatures["serving_default"]
    return lambda images: list(serving(images).values())[0]


def load_model_dir(path: str, normalization: str = "mean_subtract") -> evaluate.PredictFn:
    """The latest checkpoint of a model_dir (ours, or a converted original checkpoint).

    Corrupted images arrive in 0..255; the network expects the training normalisation.
    """
    from assembled_cnn.model_dir import restore_model
    from assembled_cnn.preprocessing.normalize import normalize_image

    model = restore_model(path)

    @tf.function(reduce_retracing=True)
    def predict(images):
        return model(normalize_image(tf.cast(images, tf.float32), normalization), training=False)
    return predict


MODEL_LOADERS: dict[str, Callable[[str], evaluate.PredictFn]] = {"saved_model": load_saved_model,
                                                                   "model_dir": load_model_dir}


def _source(args):
    if args.source == "jpeg":
        if not args.synsets_file:
            raise ValueError("--source jpeg needs --synsets_file (one wnid per line)")
        with open(args.synsets_file) as handle:
            synsets = [line.split()[0] for line in handle if line.strip()]
        return evaluate.JpegTree(args.data_dir, synsets, args.label_offset)
    return evaluate.TFRecordSets(args.data_dir)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saved_model", help="SavedModel directory (float signature, 0..255 inputs)")
    parser.add_argument("--model_dir", help="model_dir with model_config.json and checkpoints")
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--source", choices=["tfrecord", "jpeg"], default="tfrecord")
    parser.add_argument("--synsets_file")
    parser.add_argument("--label_offset", type=int, default=0)
    parser.add_argument("--corruptions", nargs="+", default=get_corruption_names("all"),
                        choices=list(CORRUPTIONS), metavar="NAME")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--clean_error", type=float)
    parser.add_argument("--output_dir", default="robustness_report")
    args = parser.parse_args(argv)
    if bool(args.saved_model) == bool(args.model_dir):
        raise SystemExit("give exactly one of --saved_model DIR or --model_dir DIR")
    predict_fn = (MODEL_LOADERS["model_dir"](args.model_dir) if args.model_dir
                  else MODEL_LOADERS["saved_model"](args.saved_model))
    errors = evaluate.evaluate_corruption_errors(predict_fn, _source(args), args.corruptions,
                                                 batch_size=args.batch_size)
    result = mce.compute_mce(errors, clean_error=args.clean_error)
    reporting.write_all(result, args.output_dir, errors)
    print(reporting.markdown_table(result, errors))
    return result


if __name__ == "__main__":
    main(sys.argv[1:])

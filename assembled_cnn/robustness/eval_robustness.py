"""mCE of a model on corrupted sets.

    python -m assembled_cnn.robustness.eval_robustness --model_dir M --data_dir C [--clean_data_dir D]
    python -m assembled_cnn.robustness.eval_robustness --saved_model E --data_dir C ...

Corrupted sets hold images already resized and cropped to the network's size, in 0..255; the
predictor applies exactly the normalisation the model was trained with: from the model_dir's
recorded experiment, or from the export's `export_info.json` (then its float signature runs).
`--clean_data_dir` (the dataset's validation TFRecords) gives the clean error with the model's
full eval preprocessing — the runner's own top-1 — and with it the relative mCE.
Which corruptions and severities: those given, else all that exist under `--data_dir`.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import os
import sys
from typing import Callable, Sequence

import tensorflow as tf

from assembled_cnn.config import ConfigError
from assembled_cnn.preprocessing import PreprocessConfig, get_preset, preprocess_image
from assembled_cnn.preprocessing.normalize import normalize_image
from assembled_cnn.robustness import evaluate, mce, reporting
from assembled_cnn.robustness.corruptions import CORRUPTIONS, get_corruption_names

ALL_SEVERITIES = (1, 2, 3, 4, 5)


class Predictor:
    """`pixels(batch in 0..255)` for corrupted crops and `encoded(bytes)` for clean records."""

    def __init__(self, logits_fn: Callable, preprocess: PreprocessConfig, description: str,
                 bytes_fn: Callable | None = None):
        self.logits_fn, self.preprocess, self.description = logits_fn, preprocess, description
        self.bytes_fn = bytes_fn

    def pixels(self, images):
        p = self.preprocess
        return self.logits_fn(normalize_image(tf.cast(images, tf.float32), p.normalization, p.means, p.stds))

    def encoded(self, image_bytes):
        if self.bytes_fn is not None:
            return self.bytes_fn(image_bytes)
        return self.logits_fn(tf.map_fn(lambda b: preprocess_image(b, False, self.preprocess), image_bytes,
                                        fn_output_signature=tf.float32))


def load_model_dir(path: str, weights: str = "auto") -> Predictor:
    """The model_dir as its run evaluated it (EMA copy, preprocessing, dtype)."""
    from assembled_cnn.experiment import load_experiment

    experiment = load_experiment(path, weights=weights)
    model = experiment.model
    logits = tf.function(lambda images: tf.cast(model(images, training=False), tf.float32), reduce_retracing=True)
    return Predictor(logits, experiment.preprocess, f"{path} ({experiment.weights} weights)")


def load_saved_model(path: str) -> Predictor:
    """An export of `python -m assembled_cnn.export`: its float signature and recorded preprocessing."""
    from assembled_cnn.export import BYTES_SIGNATURE, FLOAT_SIGNATURE, load_export_info

    info = load_export_info(path)
    loaded = tf.saved_model.load(path)
    serve, serve_bytes = loaded.signatures[FLOAT_SIGNATURE], loaded.signatures[BYTES_SIGNATURE]
    recorded = info.get("preprocessing", {})
    preprocess = dataclasses.replace(
        get_preset(info["preprocessing_type"]),
        **{k: tuple(v) if isinstance(v, list) else v for k, v in recorded.items()
           if k in ("normalization", "means", "stds")})
    return Predictor(lambda images: serve(images=images)["logits"], preprocess, f"{path} (SavedModel)",
                     bytes_fn=lambda encoded: serve_bytes(image_bytes=encoded)["logits"])


def available_sets(data_dir: str) -> dict[str, list[int]]:
    """{corruption: [severities]} that have TFRecords under data_dir."""
    found: dict[str, list[int]] = {}
    for name in CORRUPTIONS:
        for severity in ALL_SEVERITIES:
            if evaluate.corrupted_record_files(data_dir, name, severity):
                found.setdefault(name, []).append(severity)
    return found


def choose_sets(data_dir: str, corruptions: Sequence[str] | None,
                severities: Sequence[int] | None) -> tuple[list[str], list[int]]:
    """The requested (or all present) corruptions x severities; one line naming what is missing."""
    found = available_sets(data_dir)
    if not found:
        raise ConfigError(f"--data_dir={data_dir} has no corrupted sets (<corruption>/<severity>/validation-*); "
                          "write them with python -m assembled_cnn.robustness.generate")
    names = list(corruptions) if corruptions else [n for n in get_corruption_names("all") if n in found]
    levels = sorted(severities) if severities else sorted(set.intersection(*(set(found.get(n, [])) for n in names)))
    missing = [f"{n}/{s}" for n in names for s in levels if s not in found.get(n, [])]
    if missing or not levels:
        raise ConfigError(f"--data_dir={data_dir} lacks {', '.join(missing[:8]) or 'a severity common to all'}"
                          f"{' ...' if len(missing) > 8 else ''}; generate them, or pass --corruptions/--severities "
                          "for the sets that exist")
    return names, levels


def clean_error(predictor: Predictor, clean_data_dir: str, pattern: str, batch_size: int,
                label_offset: int = 0) -> float:
    """Top-1 error on clean records with the model's own eval preprocessing."""
    from assembled_cnn.datasets import schema

    files = sorted(glob.glob(os.path.join(clean_data_dir, pattern)))
    if not files:
        raise ConfigError(f"--clean_data_dir={clean_data_dir} has no {pattern} TFRecords")
    records = tf.data.TFRecordDataset(files).map(schema.parse_example)
    data = records.map(lambda r: (r["image_bytes"], r["label"] - label_offset))
    return evaluate.top1_error(predictor.encoded, data, batch_size)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saved_model", help="an export of python -m assembled_cnn.export")
    parser.add_argument("--model_dir", help="a model_dir (its recorded preprocessing and weights are used)")
    parser.add_argument("--weights", default="auto", help="model_dir weights: auto (EMA if the run kept one), "
                                                          "latest, best, ema, raw")
    parser.add_argument("--data_dir", required=True, help="<corruption>/<severity>/validation-* TFRecords")
    parser.add_argument("--source", choices=["tfrecord", "jpeg"], default="tfrecord")
    parser.add_argument("--synsets_file")
    parser.add_argument("--label_offset", type=int, default=0)
    parser.add_argument("--corruptions", nargs="+", choices=list(CORRUPTIONS), metavar="NAME",
                        help="default: every corruption present under --data_dir")
    parser.add_argument("--severities", nargs="+", type=int, choices=ALL_SEVERITIES,
                        help="default: the severities present for all chosen corruptions")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--clean_error", type=float, help="clean top-1 error (fraction) for the relative mCE")
    parser.add_argument("--clean_data_dir", help="clean validation TFRecords: measure the clean error here")
    parser.add_argument("--clean_pattern", default="validation-*")
    parser.add_argument("--output_dir", default="robustness_report")
    return parser


def _source(args):
    if args.source == "jpeg":
        if not args.synsets_file:
            raise ConfigError("--source jpeg needs --synsets_file (one wnid per line)")
        with open(args.synsets_file) as handle:
            synsets = [line.split()[0] for line in handle if line.strip()]
        return evaluate.JpegTree(args.data_dir, synsets, args.label_offset)
    return evaluate.TFRecordSets(args.data_dir)


def run(args) -> dict:
    if bool(args.saved_model) == bool(args.model_dir):
        raise ConfigError("give exactly one of --saved_model DIR or --model_dir DIR")
    if args.clean_error is not None and args.clean_data_dir:
        raise ConfigError("--clean_error and --clean_data_dir both give the clean error; pass one")
    predictor = load_model_dir(args.model_dir, args.weights) if args.model_dir else load_saved_model(args.saved_model)
    if args.source == "tfrecord":
        names, levels = choose_sets(args.data_dir, args.corruptions, args.severities)
    else:
        names = args.corruptions or get_corruption_names("all")
        levels = sorted(args.severities or ALL_SEVERITIES)
    errors = evaluate.evaluate_corruption_errors(predictor.pixels, _source(args), names, levels, args.batch_size)
    clean = args.clean_error
    if args.clean_data_dir:
        clean = clean_error(predictor, args.clean_data_dir, args.clean_pattern, args.batch_size, args.label_offset)
    result = mce.compute_mce(errors, clean_error=clean, severities=levels)
    result.update(clean_error=clean, model=predictor.description)
    reporting.write_all(result, args.output_dir, errors)
    print(reporting.markdown_table(result, errors))
    return result


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except (ConfigError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

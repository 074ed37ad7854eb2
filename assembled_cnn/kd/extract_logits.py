"""Write teacher logits into a copy of a TFRecord dataset (offline knowledge distillation).

    python -m assembled_cnn.kd.extract_logits --teacher runs/teacher --data_dir data/in \
        --output_dir data/in_kd --preprocessing_type imagenet_224_256
    python -m assembled_cnn.kd.extract_logits --teacher tf1:ckpt/model.ckpt-100 \
        --teacher_model assemble_resnet50 --teacher_num_classes 1001 ...

As the original (reference §1.8, §3.9), the teacher sees the *eval-style* preprocessed
image of every record, so its logits are fixed per image. Unlike the original (CSV files
merged by rebuilding the dataset), each output shard has the same name, records and
order as its input shard, with ``image/logit`` added; the trainer then reads it with
teacher logits on. ``--offset N`` prepends N zero logits (1000-class teacher → 1001).

Each shard is written to a hidden temp file and renamed when complete, so a rerun keeps
finished shards (resume) and a crash never leaves a partial ``train-*`` file. Several
processes can share the work (``--num_jobs/--job_index``, the original's no_shard).
``kd_info.json`` (teacher, count, logit dimension, teacher top-1 on the records: argmax
of the written logits against the stored label) is written last, once every shard exists,
after ``dataset_info.json`` is copied over so the trainer can use the output directory.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from assembled_cnn.datasets import schema
from assembled_cnn.datasets.registry import INFO_FILE
from assembled_cnn.export import load_export_info
from assembled_cnn.kd.teacher import TeacherError, load_teacher, parse_hparams
from assembled_cnn.preprocessing import PreprocessConfig, get_preset, preprocess_image
from assembled_cnn.utils.io import write_json_atomic, write_text_atomic

KD_INFO_FILE = "kd_info.json"
DEFAULT_PATTERNS = ("train-*", "validation-*")
TEMP_PREFIX = ".tmp."  # hidden: never matched by the trainer's 'train-*' / 'validation-*'


@dataclass(frozen=True)
class ShardStats:
    """What one output shard holds; top-1 counts only records with a label (>= 0)."""

    name: str
    count: int
    num_logits: int
    correct: int
    labelled: int
    reused: bool = False


@dataclass
class ExtractionSummary:
    teacher: str
    output_dir: str
    offset: int
    preprocessing: str
    shards: list[ShardStats] = field(default_factory=list)
    complete: bool = True  # False: other jobs still have shards to write

    @property
    def count(self) -> int:
        return sum(s.count for s in self.shards)

    @property
    def num_logits(self) -> int:
        sizes = {s.num_logits for s in self.shards if s.count}
        return sizes.pop() if len(sizes) == 1 else 0

    @property
    def top1(self) -> float | None:
        labelled = sum(s.labelled for s in self.shards)
        return sum(s.correct for s in self.shards) / labelled if labelled else None

    def to_dict(self) -> dict:
        return {"teacher": self.teacher, "output_dir": self.output_dir, "offset": self.offset,
                "preprocessing": self.preprocessing, "count": self.count,
                "num_logits": self.num_logits, "teacher_top1": self.top1,
                "shards": [asdict(s) for s in self.shards]}


def list_shards(data_dir: str, patterns: Sequence[str] = DEFAULT_PATTERNS) -> list[str]:
    """Basenames of the input shards, sorted within each pattern, each listed once."""
    names: list[str] = []
    for pattern in patterns:
        for path in sorted(tf.io.gfile.glob(os.path.join(data_dir, pattern))):
            if os.path.basename(path) not in names:
                names.append(os.path.basename(path))
    if not names:
        raise FileNotFoundError(f"no TFRecord files match {list(patterns)} in --data_dir "
                                f"{data_dir!r}; check the directory and --pattern")
    return names


def _job_shards(names: list[str], num_jobs: int, job_index: int) -> list[str]:
    if num_jobs < 1 or not 0 <= job_index < num_jobs:
        raise ValueError(f"--job_index={job_index} must be in [0, --num_jobs={num_jobs})")
    return names[job_index::num_jobs]


def _preprocessed_records(path: str, preprocess: PreprocessConfig, batch_size: int):
    """Batches of (serialized record, eval-preprocessed image, label), in file order."""
    def parse(serialized):
        record = schema.parse_example(serialized)
        return serialized, preprocess_image(record["image_bytes"], False, preprocess), \
            record["label"]
    dataset = tf.data.TFRecordDataset(path).map(parse, num_parallel_calls=tf.data.AUTOTUNE,
                                                deterministic=True)
    return dataset.batch(batch_size).prefetch(2)


def _with_offset(logits: np.ndarray, offset: int) -> np.ndarray:
    if logits.ndim != 2:
        raise TeacherError(f"the teacher returned shape {logits.shape}; expected [batch, classes]")
    if offset:
        logits = np.concatenate([np.zeros((len(logits), offset), logits.dtype), logits], axis=1)
    return logits


def _write_shard(teacher_fn, source: str, target: str, preprocess: PreprocessConfig,
                 batch_size: int, offset: int, progress: tqdm) -> ShardStats:
    temp = os.path.join(os.path.dirname(target), TEMP_PREFIX + os.path.basename(target))
    count = correct = labelled = num_logits = 0
    with tf.io.TFRecordWriter(temp) as writer:
        for serialized, images, labels in _preprocessed_records(source, preprocess, batch_size):
            logits = _with_offset(np.asarray(teacher_fn(images), np.float32), offset)
            if num_logits and logits.shape[1] != num_logits:
                raise TeacherError(f"teacher logit count changed within {source}")
            num_logits = logits.shape[1]
            for record, values in zip(serialized.numpy(), logits):
                writer.write(schema.add_logits(record, values))
            labels = labels.numpy()
            known = labels >= 0
            correct += int(np.sum(np.argmax(logits, axis=1)[known] == labels[known]))
            labelled += int(np.sum(known))
            count += len(labels)
            progress.update(len(labels))
    tf.io.gfile.rename(temp, target, overwrite=True)
    return ShardStats(os.path.basename(target), count, num_logits, correct, labelled)


def scan_shard(path: str, batch_size: int = 1024) -> ShardStats:
    """Stats of a finished output shard, read back from its records (for resumed shards)."""
    def parse(serialized):
        record = schema.parse_example(serialized, with_logits=True)
        return record["logits"], record["label"]
    count = correct = labelled = num_logits = 0
    dataset = tf.data.TFRecordDataset(path).map(parse, num_parallel_calls=tf.data.AUTOTUNE)
    try:
        for logits, labels in dataset.batch(batch_size):
            logits, labels = logits.numpy(), labels.numpy()
            if num_logits and logits.shape[1] != num_logits:
                raise tf.errors.InvalidArgumentError(None, None, "logit counts differ")
            num_logits, known = logits.shape[1], labels >= 0
            count += len(labels)
            labelled += int(np.sum(known))
            correct += int(np.sum(np.argmax(logits, axis=1)[known] == labels[known]))
    except tf.errors.InvalidArgumentError as err:
        raise ValueError(f"{path} is not a complete shard with one logit count per record "
                         f"({err.message}); delete it and rerun the extraction") from err
    return ShardStats(os.path.basename(path), count, num_logits, correct, labelled, reused=True)


def _check_dims(summary: ExtractionSummary) -> None:
    sizes = {s.name: s.num_logits for s in summary.shards if s.count}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"shards in {summary.output_dir} hold different logit counts {sizes}; "
                         "they come from different teachers/offsets. Delete the output dir "
                         "(or the stale shards) and rerun.")


def _write_metadata(data_dir: str, output_dir: str, summary: ExtractionSummary) -> None:
    """Copy dataset_info.json (split sizes for the trainer), then kd_info.json last."""
    info = os.path.join(data_dir, INFO_FILE)
    if tf.io.gfile.exists(info):
        with tf.io.gfile.GFile(info, "r") as handle:
            write_text_atomic(os.path.join(output_dir, INFO_FILE), handle.read())
    write_json_atomic(os.path.join(output_dir, KD_INFO_FILE), summary.to_dict())


def _resolve_preset(preprocess: PreprocessConfig | str) -> PreprocessConfig:
    return get_preset(preprocess) if isinstance(preprocess, str) else preprocess


def extract_logits(teacher_fn: Callable, data_dir: str, output_dir: str,
                   preprocess: PreprocessConfig | str, *,
                   patterns: Sequence[str] = DEFAULT_PATTERNS, batch_size: int = 64,
                   offset: int = 0, num_jobs: int = 1, job_index: int = 0,
                   teacher_description: str | None = None,
                   show_progress: bool = True) -> ExtractionSummary:
    """Copy every matching shard of data_dir to output_dir with the teacher's logits added.

    teacher_fn: float images [B, H, W, C] → logits [B, K] (a :class:`Teacher`, a Keras model
    or any callable). Finished output shards are kept and not recomputed.
    """
    if os.path.abspath(data_dir) == os.path.abspath(output_dir):
        raise ValueError("--output_dir must differ from --data_dir: shards keep their names")
    if offset < 0 or batch_size < 1:
        raise ValueError(f"--offset={offset} must be >= 0 and --batch_size={batch_size} >= 1")
    preset = _resolve_preset(preprocess)
    teacher = load_teacher(teacher_fn)
    teacher.check_input_shape(preset.output_shape(False))
    compiled = tf.function(teacher.__call__, reduce_retracing=True)
    tf.io.gfile.makedirs(output_dir)
    all_names = list_shards(data_dir, patterns)
    mine = set(_job_shards(all_names, num_jobs, job_index))
    summary = ExtractionSummary(teacher_description or teacher.description, output_dir,
                                offset, preset.name)
    with tqdm(unit="img", disable=not show_progress, desc="teacher logits") as progress:
        for name in all_names:
            target = os.path.join(output_dir, name)
            if tf.io.gfile.exists(target):
                summary.shards.append(scan_shard(target))
            elif name in mine:
                progress.set_postfix_str(name)
                summary.shards.append(_write_shard(
                    compiled, os.path.join(data_dir, name), target, preset, batch_size, offset,
                    progress))
            else:
                summary.complete = False  # another job's shard, not written yet
    _check_dims(summary)
    if summary.complete:
        _write_metadata(data_dir, output_dir, summary)
    return summary


# ----------------------------------------------------------------------------- command line

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m assembled_cnn.kd.extract_logits",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", required=True,
                        help="model_dir, SavedModel dir, or tf1:CHECKPOINT (original TF1 code)")
    parser.add_argument("--data_dir", required=True, help="input TFRecord directory")
    parser.add_argument("--output_dir", required=True, help="where the shards with logits go")
    parser.add_argument("--preprocessing_type", default=None,
                        help="eval preprocessing the teacher expects (e.g. imagenet_224_256); "
                             "default: what a model_dir teacher was trained with (hparams.json) or "
                             "a SavedModel teacher was exported with (export_info.json), else imagenet")
    parser.add_argument("--normalization", default=None,
                        help="override the preset's normalisation (mean_subtract, mean_std, "
                             "unit for [0, 1] TF-Hub teachers, none)")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--offset", type=int, default=0,
                        help="zero logits prepended (1 for 1000-class teachers → 1001)")
    parser.add_argument("--pattern", default=",".join(DEFAULT_PATTERNS),
                        help="comma-separated shard globs")
    parser.add_argument("--num_jobs", type=int, default=1, help="processes sharing the work")
    parser.add_argument("--job_index", type=int, default=0, help="this process, 0..num_jobs-1")
    parser.add_argument("--teacher_model", default=None, help="preset of a tf1: teacher")
    parser.add_argument("--teacher_num_classes", type=int, default=None)
    parser.add_argument("--teacher_hparams", default=None,
                        help="model flags of a tf1: teacher, e.g. use_se_block=true,bl_alpha=1")
    parser.add_argument("--teacher_checkpoint", default=None, help="checkpoint of a model_dir")
    parser.add_argument("--teacher_signature", default=None, help="SavedModel signature")
    parser.add_argument("--teacher_output_key", default=None, help="SavedModel output key")
    parser.add_argument("--no_progress", action="store_true", help="no tqdm bar")
    return parser


def teacher_preprocess(args: argparse.Namespace, teacher) -> PreprocessConfig:
    """What the teacher was trained (model_dir) or exported (SavedModel) with, else `imagenet`;
    an explicit --preprocessing_type that contradicts a model_dir's recording is an error."""
    overrides = {"normalization": args.normalization} if args.normalization else {}
    if teacher.preprocess is not None:
        if args.preprocessing_type and args.preprocessing_type != teacher.preprocess.name:
            raise TeacherError(f"--preprocessing_type={args.preprocessing_type} contradicts "
                               f"{teacher.preprocess.name!r} recorded in --teacher={args.teacher}; drop the flag")
        return replace(teacher.preprocess, **overrides)
    name = args.preprocessing_type
    if name is None and os.path.isdir(args.teacher):
        try:
            name = load_export_info(args.teacher).get("preprocessing_type")
        except FileNotFoundError:
            name = None
    return get_preset(name or "imagenet", **overrides)


def run(args: argparse.Namespace) -> ExtractionSummary:
    teacher = load_teacher(args.teacher, teacher_model=args.teacher_model,
                           num_classes=args.teacher_num_classes,
                           hparams=parse_hparams(args.teacher_hparams),
                           checkpoint=args.teacher_checkpoint, signature=args.teacher_signature,
                           output_key=args.teacher_output_key)
    preset = teacher_preprocess(args, teacher)
    patterns = [p.strip() for p in args.pattern.split(",") if p.strip()]
    return extract_logits(teacher, args.data_dir, args.output_dir, preset, patterns=patterns,
                          batch_size=args.batch_size, offset=args.offset,
                          num_jobs=args.num_jobs, job_index=args.job_index,
                          show_progress=not args.no_progress)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        summary = run(args)
    except (TeacherError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    top1 = "n/a" if summary.top1 is None else f"{100 * summary.top1:.2f}%"
    state = "kd_info.json written" if summary.complete else "other jobs' shards still missing"
    print(f"{summary.count} records, {summary.num_logits} logits each, teacher top-1 {top1} "
          f"({state}) -> {summary.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The input function: TFRecord files → sharded, shuffled, parsed, preprocessed, batched data.

Order of stages (training): file list → ``shard`` per input pipeline (file level, for
``tf.distribute``) → shuffle files → parallel ``interleave`` of TFRecord readers →
optional ``cache`` of the serialized records → record shuffle → ``repeat`` → parse +
preprocess (parallel map) → batch of the per-replica size (×2 for mixup type 1) →
mixing / label smoothing / KD targets → prefetch.

Each element is ``(features, targets)``:
  features: ``{"image": float [B, H, W, C]}`` (plus ``"filename"`` if asked);
  targets:  ``"label"`` int32 [B] (for mixed batches: the class with the largest
            weight), ``"targets"`` float [B, K] soft targets (mixing + label smoothing),
            ``"lam"`` float [B] the mixing weight, and with teacher logits
            ``"teacher_probs"`` = softmax(logits / T), mixed like the targets, plus the raw
            ``"teacher_logits"`` when no mixing is on.

Deterministic mode (``deterministic=True``): ordered parallelism, seeded shuffles, and
every augmentation seeded from (seed, input pipeline id, element index) with stateless
ops, so two runs give identical batches.  Otherwise each element draws a fresh seed.
Mixup type 1 reads 2× images per output sample: an "epoch" of output batches consumes
two epochs of records, as in the original.
"""

from __future__ import annotations

import dataclasses
import os

import tensorflow as tf

from assembled_cnn.datasets import schema
from assembled_cnn.preprocessing import mixing, presets
from assembled_cnn.preprocessing.mixing import MixingConfig
from assembled_cnn.preprocessing.presets import PreprocessConfig

AUTOTUNE = tf.data.AUTOTUNE


@dataclasses.dataclass(frozen=True)
class InputConfig:
    data_dir: str
    global_batch_size: int = 256
    num_classes: int = 1001
    preprocess: PreprocessConfig = PreprocessConfig()
    mixing: MixingConfig = MixingConfig()
    train_pattern: str = "train-*"
    eval_pattern: str = "validation-*"
    with_teacher_logits: bool = False
    num_teacher_logits: int | None = None  # checked per record when set
    shuffle_buffer: int = 10000
    interleave_cycle_length: int = 20
    num_parallel_calls: int = AUTOTUNE
    cache: bool = False
    deterministic: bool = False
    seed: int = 0
    num_epochs: int | None = None  # training default: repeat forever; eval: one pass
    drop_remainder: bool | None = None  # None: True for training, False for eval
    return_filename: bool = False
    image_dtype: str = "float32"
    label_offset: int = 0  # subtracted from stored labels (registry's DatasetInfo.label_offset)
    start_batch: int = 0  # training batches already consumed by this pipeline (exact resume)
    # 'file': each input pipeline reads its own files (fast); 'record': every pipeline reads all
    # files and keeps every N-th record, so that a global batch is the same whatever the number
    # of workers (used in deterministic mode). None: 'record' when deterministic, else 'file'.
    shard_policy: str | None = None

    @property
    def shards_records(self) -> bool:
        return (self.shard_policy or ("record" if self.deterministic else "file")) == "record"

    def __post_init__(self):
        if self.global_batch_size <= 0:
            raise ValueError(f"global_batch_size={self.global_batch_size} must be positive")
        if self.num_classes <= 0:
            raise ValueError(f"num_classes={self.num_classes} must be positive")


def list_files(config: InputConfig, is_training: bool) -> list[str]:
    """The sorted files matching the train/eval pattern; fails if there are none."""
    pattern = os.path.join(config.data_dir, config.train_pattern if is_training
                           else config.eval_pattern)
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no TFRecord files match {pattern!r}; check --data_dir and the "
                                "train/eval file patterns (default 'train-*' / 'validation-*')")
    return files


def per_replica_batch_size(config: InputConfig, input_context=None) -> int:
    """Per-replica output batch from the global batch (tf.distribute semantics)."""
    if input_context is None:
        return config.global_batch_size
    if config.global_batch_size % input_context.num_replicas_in_sync:
        raise ValueError(f"global_batch_size={config.global_batch_size} is not divisible by "
                         f"{input_context.num_replicas_in_sync} replicas")
    return input_context.get_per_replica_batch_size(config.global_batch_size)


def _pipeline_id(input_context) -> tuple[int, int]:
    if input_context is None:
        return 1, 0
    return input_context.num_input_pipelines, input_context.input_pipeline_id


def _file_dataset(config: InputConfig, is_training: bool, input_context) -> tf.data.Dataset:
    files = list_files(config, is_training)
    num_pipelines, pipeline_id = _pipeline_id(input_context)
    if config.shards_records:
        num_pipelines = 1
    if num_pipelines > len(files):
        raise ValueError(f"{len(files)} files cannot be sharded over {num_pipelines} input "
                         "pipelines; write more shards or use fewer hosts")
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if num_pipelines > 1:
        dataset = dataset.shard(num_pipelines, pipeline_id)  # after enumerate: global indices
    if is_training:
        dataset = dataset.shuffle(len(files), seed=_shuffle_seed(config, 1),
                                  reshuffle_each_iteration=True)
    return dataset


def _shuffle_seed(config: InputConfig, salt: int) -> int | None:
    return config.seed * 1000 + salt if config.deterministic else None


def _record_dataset(config: InputConfig, is_training: bool, input_context) -> tf.data.Dataset:
    files = _file_dataset(config, is_training, input_context)
    dataset = files.interleave(
        tf.data.TFRecordDataset, cycle_length=config.interleave_cycle_length,
        num_parallel_calls=AUTOTUNE, deterministic=config.deterministic or not is_training)
    if config.cache:
        dataset = dataset.cache()
    if not is_training:
        return dataset.repeat(config.num_epochs or 1)
    dataset = dataset.shuffle(config.shuffle_buffer, seed=_shuffle_seed(config, 2),
                              reshuffle_each_iteration=True)
    return dataset.repeat(config.num_epochs)  # None: forever


def _element_seed(config: InputConfig, pipeline_id: int, index) -> tf.Tensor | None:
    """Stateless seed for one element/batch; None (draw fresh) outside deterministic mode."""
    if not config.deterministic:
        return None
    base = tf.constant(config.seed * 65536 + pipeline_id, tf.int64)
    return tf.stack([base, tf.cast(index, tf.int64)])


def _make_parser(config: InputConfig, is_training: bool, pipeline_id: int):
    def parse(index, serialized):
        record = schema.parse_example(serialized, with_logits=config.with_teacher_logits,
                                      num_logits=config.num_teacher_logits)
        image = presets.preprocess_image(
            record["image_bytes"], is_training, config.preprocess,
            seed=_element_seed(config, pipeline_id, index), bbox=record["bbox"])
        element = {"image": image, "label": record["label"] - config.label_offset}
        if config.with_teacher_logits:
            element["logits"] = record["logits"]
        if config.return_filename:
            element["filename"] = record["filename"]
        return element
    return parse


def _make_batch_mixer(config: InputConfig, is_training: bool, pipeline_id: int):
    mix_config = config.mixing if is_training else MixingConfig(
        kd_temperature=config.mixing.kd_temperature)

    def mix(index, batch):
        # Seeds of batches use negative indices so they never equal an element's seed.
        seed = _element_seed(config, pipeline_id, -1 - index)
        mixed = mixing.mix_batch(batch["image"], batch["label"], config.num_classes,
                                 mix_config, batch.get("logits"), seed)
        features = {"image": tf.cast(mixed.images, config.image_dtype)}
        if config.return_filename and mix_config.mode != "mixup1":
            features["filename"] = batch["filename"]
        targets = {"targets": mixed.targets, "lam": mixed.lam}
        if mix_config.mode == "none":
            targets["label"] = batch["label"]
        else:
            targets["label"] = tf.argmax(mixed.targets, axis=-1, output_type=tf.int32)
        if mixed.teacher_probs is not None:
            targets["teacher_probs"] = mixed.teacher_probs
            if mix_config.mode == "none":
                targets["teacher_logits"] = batch["logits"]
        return features, targets
    return mix


def build_dataset(config: InputConfig, is_training: bool,
                  input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
    """The dataset of one input pipeline; pass to ``distribute_datasets_from_function``."""
    _, pipeline_id = _pipeline_id(input_context)
    # Record sharding keeps global record indices, so seeds must not depend on the pipeline.
    seed_pipeline = 0 if config.shards_records else pipeline_id
    batch_size = per_replica_batch_size(config, input_context)
    if is_training:
        batch_size *= config.mixing.batch_multiplier
    drop_remainder = is_training if config.drop_remainder is None else config.drop_remainder
    if is_training and config.mixing.mode in ("mixup1", "mixup2") and not drop_remainder:
        raise ValueError(f"mixing mode {config.mixing.mode!r} splits every batch in halves; "
                         "set drop_remainder=True (or leave it None) so no odd batch is made")
    dataset = _record_dataset(config, is_training, input_context).enumerate()
    num_pipelines, _ = _pipeline_id(input_context)
    if config.shards_records and num_pipelines > 1:
        dataset = dataset.shard(num_pipelines, pipeline_id)  # after enumerate: global indices
    start_batch = config.start_batch if is_training else 0
    if start_batch:  # skip serialized records, before any decoding, to resume exactly
        dataset = dataset.skip(start_batch * batch_size)
    dataset = dataset.map(_make_parser(config, is_training, seed_pipeline),
                          num_parallel_calls=config.num_parallel_calls,
                          deterministic=config.deterministic or not is_training)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder).enumerate(start=start_batch)
    dataset = dataset.map(_make_batch_mixer(config, is_training, pipeline_id),
                          num_parallel_calls=AUTOTUNE,
                          deterministic=config.deterministic or not is_training)
    dataset = dataset.prefetch(AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = config.deterministic or not is_training
    options.threading.max_intra_op_parallelism = 1
    return dataset.with_options(options)


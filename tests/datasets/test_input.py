"""The input pipeline: sharding, determinism, batch shapes, mixup batch doubling, KD logits."""

import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from assembled_cnn.datasets import input as input_lib
from assembled_cnn.datasets import schema
from assembled_cnn.preprocessing import MixingConfig, get_preset

NUM_CLASSES = 10
TRAIN_SHARDS, VALIDATION_SHARDS, PER_SHARD = 4, 2, 6


def _jpeg(rng) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (36, 44, 3), dtype=np.uint8)).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """TFRecords named like the builders write them, with teacher logits in every record."""
    directory = tmp_path_factory.mktemp("records")
    rng = np.random.default_rng(0)
    logits_by_name = {}
    for split, shards in (("train", TRAIN_SHARDS), ("validation", VALIDATION_SHARDS)):
        for shard in range(shards):
            path = directory / f"{split}-{shard:05d}-of-{shards:05d}"
            with tf.io.TFRecordWriter(str(path)) as writer:
                for index in range(PER_SHARD):
                    name = f"{split}-{shard}-{index}"
                    logits = rng.normal(size=NUM_CLASSES).astype(np.float32)
                    logits_by_name[name] = logits
                    example = schema.make_example(_jpeg(rng), (shard * PER_SHARD + index) % NUM_CLASSES,
                                                  filename=name, logits=logits)
                    writer.write(example.SerializeToString())
    return str(directory), logits_by_name


def make_config(directory, **overrides):
    settings = dict(global_batch_size=4, num_classes=NUM_CLASSES, shuffle_buffer=8,
                    preprocess=get_preset("imagenet_32"), interleave_cycle_length=4)
    settings.update(overrides)
    return input_lib.InputConfig(directory, **settings)


def filenames_of(dataset) -> list[str]:
    return [name.decode() for features, _ in dataset for name in features["filename"].numpy()]


def test_sharding_gives_disjoint_files_per_input_pipeline(data_dir):
    directory, _ = data_dir
    config = make_config(directory, return_filename=True)
    seen = []
    for pipeline_id in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline_id,
                                             num_replicas_in_sync=2)
        names = filenames_of(input_lib.build_dataset(config, False, context))
        seen.append({name.rsplit("-", 1)[0] for name in names})  # the shard each came from
        assert len(names) == len(set(names))
    assert seen[0].isdisjoint(seen[1])
    assert seen[0] | seen[1] == {f"validation-{s}" for s in range(VALIDATION_SHARDS)}


def test_training_shards_cover_all_files_once_per_epoch(data_dir):
    directory, _ = data_dir
    config = make_config(directory, return_filename=True, num_epochs=1, drop_remainder=False)
    names = []
    for pipeline_id in range(2):
        context = tf.distribute.InputContext(2, pipeline_id, 2)
        names += filenames_of(input_lib.build_dataset(config, True, context))
    assert sorted(names) == sorted(f"train-{s}-{i}" for s in range(TRAIN_SHARDS)
                                   for i in range(PER_SHARD))


def test_deterministic_mode_gives_identical_batches_twice(data_dir):
    directory, _ = data_dir
    config = make_config(directory, deterministic=True, seed=7,
                         preprocess=get_preset("imagenet_32", autoaugment="test"),
                         mixing=MixingConfig("mixup1"))

    def first_batches(cfg):
        return [(f["image"].numpy(), t["targets"].numpy()) for f, t in
                input_lib.build_dataset(cfg, True).take(3)]

    run1, run2 = first_batches(config), first_batches(config)
    for (images1, targets1), (images2, targets2) in zip(run1, run2):
        np.testing.assert_array_equal(images1, images2)
        np.testing.assert_array_equal(targets1, targets2)
    other_seed = first_batches(make_config(directory, deterministic=True, seed=8,
                                           preprocess=config.preprocess, mixing=config.mixing))
    assert not np.array_equal(run1[0][0], other_seed[0][0])


def test_batch_shapes_per_replica_and_mixup_type1_reads_a_double_batch(data_dir):
    directory, _ = data_dir
    context = tf.distribute.InputContext(num_input_pipelines=1, input_pipeline_id=0,
                                         num_replicas_in_sync=2)
    config = make_config(directory, global_batch_size=8, mixing=MixingConfig("mixup1"),
                         num_epochs=1, return_filename=True)
    assert input_lib.per_replica_batch_size(config, context) == 4
    batches = list(input_lib.build_dataset(config, True, context))
    # 24 records, 2 x 4 = 8 read per batch -> 3 batches of 4 mixed images
    assert len(batches) == 3
    for features, targets in batches:
        assert features["image"].shape == (4, 32, 32, 3) and features["image"].dtype == tf.float32
        assert targets["targets"].shape == (4, NUM_CLASSES) and targets["lam"].shape == (4,)
        np.testing.assert_allclose(targets["targets"].numpy().sum(-1), 1.0, rtol=1e-6)
        assert "filename" not in features  # a mixed sample has two source files


def test_teacher_logits_flow_through_unmixed(data_dir):
    directory, logits_by_name = data_dir
    config = make_config(directory, with_teacher_logits=True, num_teacher_logits=NUM_CLASSES,
                         return_filename=True)
    for features, targets in input_lib.build_dataset(config, False):
        for row, name in enumerate(features["filename"].numpy()):
            expected = logits_by_name[name.decode()]
            np.testing.assert_allclose(targets["teacher_logits"][row], expected, rtol=1e-6)
            np.testing.assert_allclose(targets["teacher_probs"][row],
                                       tf.nn.softmax(expected), rtol=1e-5)
        assert targets["label"].dtype == tf.int32


def test_teacher_probs_are_mixed_with_the_label_weights(data_dir):
    directory, _ = data_dir
    config = make_config(directory, with_teacher_logits=True, mixing=MixingConfig("mixup2"),
                         deterministic=True)
    _, targets = next(iter(input_lib.build_dataset(config, True)))
    probs = targets["teacher_probs"].numpy()
    assert probs.shape == (4, NUM_CLASSES)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    assert "teacher_logits" not in targets  # raw logits are meaningless after mixing


def test_eval_pass_is_complete_ordered_and_keeps_the_remainder(data_dir):
    directory, _ = data_dir
    config = make_config(directory, global_batch_size=5, return_filename=True, cache=True)
    batches = list(input_lib.build_dataset(config, False))
    assert [b[0]["image"].shape[0] for b in batches] == [5, 5, 2]
    names = filenames_of(batches)
    assert len(names) == VALIDATION_SHARDS * PER_SHARD == len(set(names))
    assert batches[0][0]["image"].shape[1:] == (32, 32, 3)


def test_missing_files_and_bad_sharding_are_reported(data_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match="train-"):
        input_lib.build_dataset(make_config(str(tmp_path)), True)
    directory, _ = data_dir
    context = tf.distribute.InputContext(num_input_pipelines=3, input_pipeline_id=0)
    with pytest.raises(ValueError, match="2 files cannot be sharded over 3"):
        input_lib.build_dataset(make_config(directory), False, context)


def test_mixup_refuses_to_keep_an_odd_remainder(data_dir):
    directory, _ = data_dir
    config = make_config(directory, mixing=MixingConfig("mixup2"), drop_remainder=False)
    with pytest.raises(ValueError, match="drop_remainder=True"):
        input_lib.build_dataset(config, True)

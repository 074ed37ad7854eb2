"""The dataset registry (the old data_config.py) and dataset_info.json lookups."""

import json

import pytest

from assembled_cnn.datasets.registry import (MEAN_PER_CLASS, TOP1, DatasetInfo,
                                             UnknownDatasetError, get_dataset_info, known_names)

REQUIRED = ["imagenet", "food101", "stanford_cars", "cars196", "fgvc_aircraft",
            "oxford_iiit_pet", "oxford_flowers102", "cub200", "cub_200_2011", "dtd",
            "caltech101", "sun397", "cifar10", "cifar100", "mnist", "fashion_mnist"]


@pytest.mark.parametrize("name", REQUIRED)
def test_every_required_dataset_is_registered(name):
    info = get_dataset_info(name)
    assert isinstance(info, DatasetInfo)
    assert info.num_classes > 1 and info.train_size > 0 and info.validation_size > 0
    assert info.primary_metric in (TOP1, MEAN_PER_CLASS)


def test_original_data_config_values():
    imagenet = get_dataset_info("imagenet")
    assert (imagenet.num_classes, imagenet.label_offset) == (1001, 0)
    assert (imagenet.train_size, imagenet.validation_size) == (1_281_167, 50_000)
    assert (imagenet.shuffle_buffer, imagenet.num_train_files) == (10000, 1024)
    one_k = get_dataset_info("imagenet1k")
    assert (one_k.num_classes, one_k.label_offset) == (1000, 1)
    assert get_dataset_info("cars196") == get_dataset_info("stanford_cars")
    assert get_dataset_info("cars196").num_classes == 196
    assert (get_dataset_info("food101").train_size, get_dataset_info("food101").validation_size) \
        == (75_750, 25_250)
    assert get_dataset_info("oxford_flowers102").train_size == 2_040
    assert get_dataset_info("fgvc_aircraft").validation_size == 3_333


def test_mean_per_class_metric_where_the_literature_uses_it():
    for name in ("oxford_iiit_pet", "caltech101", "oxford_flowers102", "fgvc_aircraft"):
        assert get_dataset_info(name).primary_metric == MEAN_PER_CLASS
    for name in ("imagenet", "food101", "cifar10", "stanford_cars"):
        assert get_dataset_info(name).primary_metric == TOP1


def test_digit_datasets_are_small_grayscale_png():
    info = get_dataset_info("mnist")
    assert (info.image_size, info.image_channels, info.image_format) == (28, 1, "PNG")
    assert get_dataset_info("cifar100").image_size == 32


def _write_info(path, num_classes=5, train=12, validation=3):
    path.mkdir(parents=True, exist_ok=True)
    payload = {"num_classes": num_classes, "channels": 3, "image_format": "JPEG",
               "splits": {"train": {"num_records": train, "num_shards": 2},
                          "validation": {"num_records": validation, "num_shards": 1}}}
    (path / "dataset_info.json").write_text(json.dumps(payload))


def test_unknown_name_is_described_by_dataset_info(tmp_path):
    _write_info(tmp_path)
    info = get_dataset_info("my_leaves", tmp_path)
    assert (info.name, info.num_classes, info.train_size, info.validation_size) == (
        "my_leaves", 5, 12, 3)
    assert info.num_train_files == 2 and info.shuffle_buffer == 12
    assert get_dataset_info("imagefolder", tmp_path).num_classes == 5


def test_registered_sizes_follow_the_written_records(tmp_path):
    _write_info(tmp_path, num_classes=101, train=75_749, validation=25_250)
    info = get_dataset_info("food101", tmp_path)
    assert info.train_size == 75_749 and info.num_classes == 101


def test_unknown_name_without_file_lists_known_names(tmp_path):
    with pytest.raises(UnknownDatasetError) as caught:
        get_dataset_info("leaves", tmp_path)
    message = str(caught.value)
    assert "dataset_info.json" in message and "food101" in message and "imagefolder" in message
    with pytest.raises(UnknownDatasetError, match="no data_dir"):
        get_dataset_info("imagefolder")
    assert "cars196" in known_names()

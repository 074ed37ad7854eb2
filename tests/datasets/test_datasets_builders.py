"""Every raw layout: build a fake tree laid out like the real one, then parse it back."""

from pathlib import Path

import numpy as np
import pytest

from assembled_cnn.datasets import builders
from assembled_cnn.datasets.build import build_dataset, main
from assembled_cnn.datasets.builders import caltech101, cub200
from assembled_cnn.datasets.builders.base import DatasetLayoutError
from assembled_cnn.datasets.registry import get_dataset_info
from datasets_fakes import FAKES
from datasets_testlib import load_info, read_split, write_image


def _check_round_trip(tf, fake, output: Path, info: dict) -> None:
    assert load_info(output) == info
    assert info["num_classes"] == fake.num_classes
    assert info["label_map"] == {str(k): v for k, v in fake.label_map.items()}
    assert info["skipped"]["count"] == 0
    for split, expected in fake.expected.items():
        records = read_split(output, split)
        got = {r["filename"].decode(): int(r["label"]) for r in records}
        assert got == expected, split
        assert len(records) == len(expected) == info["splits"][split]["num_records"]
        per_class = {name: 0 for name in fake.label_map.values()}
        for label in expected.values():
            per_class[fake.label_map[label]] += 1
        assert info["splits"][split]["per_class"] == per_class
        for record in records:
            name = record["filename"].decode()
            image = tf.io.decode_image(record["image_bytes"]).numpy()
            if name in fake.pixels:
                np.testing.assert_array_equal(image, fake.pixels[name])
            else:
                assert image.shape == (8, 10, 3)
            if name in fake.bboxes:
                np.testing.assert_allclose(record["bbox"], [fake.bboxes[name]], atol=1e-6)


@pytest.mark.parametrize("dataset", sorted(FAKES))
def test_builder_round_trip(tf, tmp_path, dataset):
    fake = FAKES[dataset](tmp_path / "raw")
    output = tmp_path / "out"
    info = build_dataset(dataset, fake.raw_dir, output)
    _check_round_trip(tf, fake, output, info)
    assert sorted(p.name for p in output.glob("train-*")) == ["train-00000-of-00001"]


def test_registry_names_all_have_builders():
    for name in ["imagenet", "food101", "stanford_cars", "cars196", "fgvc_aircraft",
                 "oxford_iiit_pet", "oxford_flowers102", "cub200", "cub_200_2011", "dtd",
                 "caltech101", "sun397", "cifar10", "cifar100", "mnist", "fashion_mnist",
                 "imagefolder"]:
        assert callable(builders.get_reader(name))
    with pytest.raises(DatasetLayoutError, match="known layouts"):
        builders.get_reader("no_such_dataset")


def test_digit_records_are_png_with_one_channel(tmp_path):
    fake = FAKES["fashion_mnist"](tmp_path / "raw")
    info = build_dataset("fashion_mnist", fake.raw_dir, tmp_path / "out")
    assert (info["image_format"], info["channels"]) == ("PNG", 1)
    assert get_dataset_info("fashion_mnist", tmp_path / "out").train_size == 6


def test_imagefolder_flat_tree_split_by_fraction(tmp_path):
    for name in ("b_dog", "a_cat"):
        for i in range(5):
            write_image(tmp_path / "raw" / name / f"{name}_{i}.png", fmt="PNG", seed=i)
    info = build_dataset("imagefolder", tmp_path / "raw", tmp_path / "out",
                         validation_fraction=0.4)
    assert info["label_map"] == {"0": "a_cat", "1": "b_dog"}
    assert info["splits"]["train"]["per_class"] == {"a_cat": 3, "b_dog": 3}
    assert info["splits"]["validation"]["per_class"] == {"a_cat": 2, "b_dog": 2}
    records = read_split(tmp_path / "out", "train") + read_split(tmp_path / "out", "validation")
    for record in records:
        assert record["filename"].decode().startswith(["a_cat", "b_dog"][record["label"]])
        assert record["image_bytes"][:2] == b"\xff\xd8"  # the PNGs became JPEG


def test_caltech101_drops_background_and_keeps_30_per_class(tmp_path):
    root = tmp_path / "raw" / "101_ObjectCategories"
    for name, count in (("accordion", 32), ("airplanes", 31), ("BACKGROUND_Google", 2)):
        for i in range(count):
            write_image(root / name / f"image_{i:04d}.jpg", seed=i)
    info = build_dataset("caltech101", tmp_path / "raw", tmp_path / "out")
    assert info["label_map"] == {"0": "accordion", "1": "airplanes"}
    assert info["splits"]["train"]["per_class"] == {"accordion": 30, "airplanes": 30}
    assert info["splits"]["validation"]["per_class"] == {"accordion": 2, "airplanes": 1}
    again = caltech101.read(tmp_path / "raw", caltech101.BuildConfig())
    first = caltech101.read(tmp_path / "raw", caltech101.BuildConfig())
    assert [i.source for i in again.splits["validation"]] == [
        i.source for i in first.splits["validation"]]


def test_cub200_zeroshot_splits_by_class(tmp_path, monkeypatch):
    fake = FAKES["cub200"](tmp_path / "raw")
    monkeypatch.setattr(cub200, "ZERO_SHOT_TRAIN_CLASSES", 1)
    raw = cub200.read_zeroshot(fake.raw_dir, cub200.BuildConfig())
    assert {i.label for i in raw.splits["train"]} == {0}
    assert {i.label for i in raw.splits["validation"]} == {1}
    assert len(raw.splits["train"]) + len(raw.splits["validation"]) == 5


def test_empty_class_dir_is_a_clear_error(tmp_path, capsys):
    write_image(tmp_path / "raw" / "cat" / "a.jpg")
    (tmp_path / "raw" / "dog").mkdir()
    with pytest.raises(DatasetLayoutError, match=r"dog is empty"):
        build_dataset("imagefolder", tmp_path / "raw", tmp_path / "out")
    code = main(["--dataset=imagefolder", f"--raw_dir={tmp_path / 'raw'}",
                 f"--output_dir={tmp_path / 'out'}"])
    assert code == 2
    assert str(tmp_path / "raw" / "dog") in capsys.readouterr().err
    assert not (tmp_path / "out" / "dataset_info.json").exists()


@pytest.mark.parametrize("dataset,missing", [
    ("food101", "food-101/meta/test.txt"), ("dtd", "dtd/labels/test1.txt"),
    ("oxford_iiit_pet", "annotations/test.txt"), ("sun397", "Partitions/Testing_01.txt"),
    ("fgvc_aircraft", "fgvc-aircraft-2013b/data/images_variant_val.txt"),
    ("oxford_flowers102", "setid.mat"), ("cub200", "CUB_200_2011/train_test_split.txt"),
    ("imagenet", "imagenet_2012_validation_synset_labels.txt"),
    ("cifar10", "cifar-10-batches-bin/data_batch_3.bin"),
])
def test_missing_split_file_names_the_path(tmp_path, dataset, missing):
    fake = FAKES[dataset](tmp_path / "raw")
    (tmp_path / "raw" / missing).unlink()
    with pytest.raises(DatasetLayoutError, match=Path(missing).name.replace(".", r"\.")):
        build_dataset(dataset, fake.raw_dir, tmp_path / "out")


def test_stanford_cars_without_extracted_images_says_how(tmp_path):
    fake = FAKES["stanford_cars"](tmp_path / "raw")
    for path in (tmp_path / "raw" / "car_ims").iterdir():
        path.unlink()
    (tmp_path / "raw" / "car_ims").rmdir()
    (tmp_path / "raw" / "car_ims.tgz").write_bytes(b"")
    with pytest.raises(DatasetLayoutError, match="tar xzf"):
        build_dataset("stanford_cars", fake.raw_dir, tmp_path / "out")


def test_truncated_idx_file_is_rejected(tmp_path):
    fake = FAKES["mnist"](tmp_path / "raw")
    path = tmp_path / "raw" / "package" / "data" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DatasetLayoutError, match="truncated"):
        build_dataset("mnist", fake.raw_dir, tmp_path / "out")

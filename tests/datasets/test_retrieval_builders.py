"""The retrieval layouts: SOP, the class-disjoint zero-shot splits, iFood-2019 (the round trip of
SOP and iFood-2019 runs in test_datasets_builders.test_builder_round_trip)."""

import pytest

from assembled_cnn.datasets import builders
from assembled_cnn.datasets.build import build_dataset
from assembled_cnn.datasets.builders import cub200, stanford_cars
from assembled_cnn.datasets.builders.base import DatasetLayoutError
from assembled_cnn.datasets.registry import get_dataset_info
from datasets_fakes import FAKES
from datasets_testlib import read_split


@pytest.mark.parametrize("name,classes,train,validation", [
    ("SOP", 11_318, 59_551, 60_502), ("sop", 11_318, 59_551, 60_502),
    ("cars196_zeroshot", 196, 8_054, 8_131), ("cub200_zeroshot", 100, 5_864, 5_924),
    ("iFood2019", 251, 118_475, 11_994),
])
def test_registry_sizes_are_the_originals(name, classes, train, validation):
    info = get_dataset_info(name)
    assert (info.num_classes, info.train_size, info.validation_size) == (classes, train, validation)
    assert callable(builders.get_reader(name))


def test_cars196_zeroshot_round_trip_is_class_disjoint(tmp_path, monkeypatch):
    fake = FAKES["stanford_cars"](tmp_path / "raw")
    monkeypatch.setattr(stanford_cars, "ZERO_SHOT_TRAIN_CLASSES", 1)
    info = build_dataset("cars196_zeroshot", fake.raw_dir, tmp_path / "out")
    records = {split: {r["filename"].decode(): int(r["label"]) for r in read_split(tmp_path / "out", split)}
               for split in ("train", "validation")}
    everything = {**fake.expected["train"], **fake.expected["validation"]}
    assert records["train"] == {k: v for k, v in everything.items() if v == 0}
    assert records["validation"] == {k: v for k, v in everything.items() if v == 1}  # labels not re-based
    assert info["splits"]["validation"]["num_records"] == 3


def test_sop_validation_classes_are_not_training_classes(tmp_path):
    fake = FAKES["sop"](tmp_path / "raw")
    build_dataset("SOP", fake.raw_dir, tmp_path / "out")
    train = {int(r["label"]) for r in read_split(tmp_path / "out", "train")}
    validation = {int(r["label"]) for r in read_split(tmp_path / "out", "validation")}
    assert train == {0, 1} and validation == {2}
    assert get_dataset_info("SOP", tmp_path / "out").validation_size == 2


def test_sop_without_header_and_ifood_with_a_bad_label_are_clear_errors(tmp_path):
    fake = FAKES["sop"](tmp_path / "sop")
    listing = fake.raw_dir / "Stanford_Online_Products" / "Ebay_test.txt"
    listing.write_text("\n".join(listing.read_text().splitlines()[1:]))
    with pytest.raises(DatasetLayoutError, match="header"):
        build_dataset("sop", fake.raw_dir, tmp_path / "out1")
    fake = FAKES["ifood2019"](tmp_path / "ifood")
    (fake.raw_dir / "val_info.csv").write_text("validation_000000.jpg,251\n")
    with pytest.raises(DatasetLayoutError, match=r"val_info.csv:1: .*0\.\.250"):
        build_dataset("ifood2019", fake.raw_dir, tmp_path / "out2")


@pytest.mark.parametrize("dataset,fake_name,module,shape", [
    ("cars196_zeroshot", "stanford_cars", stanford_cars, (2, 5, 3)),  # box x 1..6, y 2..4
    ("cub200_zeroshot", "cub200", cub200, (4, 4, 3)),                 # box x 1..5, y 2..6
])
def test_zeroshot_bbox_crop(tf, tmp_path, monkeypatch, dataset, fake_name, module, shape):
    fake = FAKES[fake_name](tmp_path / "raw")
    monkeypatch.setattr(module, "ZERO_SHOT_TRAIN_CLASSES", 1)
    build_dataset(dataset, fake.raw_dir, tmp_path / "out", crop_to_bbox=True)
    records = read_split(tmp_path / "out", "train") + read_split(tmp_path / "out", "validation")
    assert len(records) == 5
    for record in records:
        assert tf.io.decode_image(record["image_bytes"]).shape == shape
        assert record["bbox"].size == 0  # the crop is the object: no box is stored
    build_dataset(dataset, fake.raw_dir, tmp_path / "plain")  # without the option: whole images
    assert tf.io.decode_image(read_split(tmp_path / "plain", "train")[0]["image_bytes"]).shape == (8, 10, 3)

"""Tiny fake copies of each dataset, laid out exactly like the official archives.

Each ``make_*`` writes a few small real image files plus the official annotation
files and returns what a correct builder must produce from them.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from datasets_testlib import write_image


@dataclass
class Fake:
    raw_dir: Path
    expected: dict[str, dict[str, int]]  # split -> {record filename: label}
    label_map: dict[int, str]
    num_classes: int
    bboxes: dict[str, tuple] = field(default_factory=dict)  # filename -> (ymin,xmin,ymax,xmax)
    pixels: dict[str, np.ndarray] = field(default_factory=dict)  # filename -> decoded pixels


def _lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def make_imagefolder(root: Path) -> Fake:
    expected = {"train": {}, "validation": {}}
    for split, folder, count in (("train", "train", 3), ("validation", "val", 2)):
        for label, name in enumerate(["cat", "dog"]):
            for i in range(count):
                write_image(root / folder / name / f"{name}_{split}_{i}.jpg", seed=i)
                expected[split][f"{name}_{split}_{i}.jpg"] = label
    return Fake(root, expected, {0: "cat", 1: "dog"}, 2)


def make_imagenet(root: Path) -> Fake:
    synsets = ["n02000002", "n01000001"]  # deliberately unsorted: the file defines the order
    _lines(root / "imagenet_lsvrc_2015_synsets.txt", synsets)
    _lines(root / "imagenet_metadata.txt", ["n01000001\ttench, Tinca tinca", "n02000002\tgoldfish"])
    expected = {"train": {}, "validation": {}}
    for synset in synsets:
        for i in range(2):
            write_image(root / "train" / synset / f"{synset}_{i}.JPEG", seed=i)
            expected["train"][f"{synset}_{i}.JPEG"] = synsets.index(synset) + 1
    val_synsets = ["n01000001", "n02000002", "n01000001"]
    for i, synset in enumerate(val_synsets, start=1):
        write_image(root / "validation" / f"ILSVRC2012_val_{i:08d}.JPEG", seed=i)
        expected["validation"][f"ILSVRC2012_val_{i:08d}.JPEG"] = synsets.index(synset) + 1
    _lines(root / "imagenet_2012_validation_synset_labels.txt", val_synsets)
    _lines(root / "imagenet_2012_bounding_boxes.csv", ["n01000001_1.JPEG,0.1,0.2,0.5,0.6"])
    return Fake(root, expected, {1: "n02000002", 2: "n01000001"}, 3,
                bboxes={"n01000001_1.JPEG": (0.2, 0.1, 0.6, 0.5)})


def make_food101(root: Path) -> Fake:
    base = root / "food-101"
    classes = ["ramen", "apple_pie"]  # official order comes from meta/classes.txt
    _lines(base / "meta" / "classes.txt", classes)
    _lines(base / "meta" / "labels.txt", ["Ramen", "Apple pie"])
    lists = {"train": ["ramen/101", "apple_pie/201", "apple_pie/202"],
             "validation": ["ramen/102", "apple_pie/203"]}
    _lines(base / "meta" / "train.txt", lists["train"])
    _lines(base / "meta" / "test.txt", lists["validation"])
    expected = {s: {} for s in lists}
    for split, entries in lists.items():
        for entry in entries:
            write_image(base / "images" / f"{entry}.jpg")
            expected[split][entry.split("/")[1] + ".jpg"] = classes.index(entry.split("/")[0])
    return Fake(root, expected, {0: "ramen", 1: "apple_pie"}, 2)


def make_stanford_cars(root: Path) -> Fake:
    from scipy.io import savemat

    fields = ["relative_im_path", "bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "test"]
    rows = [(1, 0), (2, 0), (1, 1), (2, 1), (2, 0)]  # (class, test)
    annotations = np.zeros((1, len(rows)), dtype=[(f, "O") for f in fields])
    expected = {"train": {}, "validation": {}}
    for i, (class_id, test) in enumerate(rows, start=1):
        write_image(root / "car_ims" / f"{i:06d}.jpg", seed=i)
        annotations[0, i - 1] = (f"car_ims/{i:06d}.jpg", 1.0, 2.0, 6.0, 4.0, class_id, test)
        expected["validation" if test else "train"][f"{i:06d}.jpg"] = class_id - 1
    names = np.array(["AM General Hummer SUV 2000", "Acura RL Sedan 2012"], dtype=object)
    savemat(root / "cars_annos.mat", {"annotations": annotations,
                                      "class_names": names.reshape(1, -1)})
    # image is 10 wide, 8 high: x 1..6 -> 0.1..0.6, y 2..4 -> 0.25..0.5
    return Fake(root, expected, {0: str(names[0]), 1: str(names[1])}, 2,
                bboxes={"000001.jpg": (0.25, 0.1, 0.5, 0.6)})


def make_fgvc_aircraft(root: Path) -> Fake:
    data = root / "fgvc-aircraft-2013b" / "data"
    variants = ["Boeing 737-200", "F-16A/B"]
    _lines(data / "variants.txt", variants)
    lists = {"images_variant_train.txt": ["1000001 F-16A/B", "1000002 Boeing 737-200"],
             "images_variant_val.txt": ["1000003 Boeing 737-200"],
             "images_variant_test.txt": ["1000004 F-16A/B", "1000005 Boeing 737-200"]}
    expected = {"train": {}, "validation": {}}
    for list_name, lines in lists.items():
        _lines(data / list_name, lines)
        split = "validation" if "test" in list_name else "train"
        for line in lines:
            image_id, variant = line.split(" ", 1)
            write_image(data / "images" / f"{image_id}.jpg")
            expected[split][f"{image_id}.jpg"] = variants.index(variant)
    _lines(data / "images_box.txt", ["1000001 0 0 5 4"])
    return Fake(root, expected, dict(enumerate(variants)), 2,
                bboxes={"1000001.jpg": (0.0, 0.0, 0.5, 0.5)})


def make_oxford_iiit_pet(root: Path) -> Fake:
    header = ["#Image CLASS-ID SPECIES BREED ID", "#ID: 1:37 Class ids"]
    lists = {"trainval.txt": ["Abyssinian_1 1 1 1", "american_bulldog_10 2 2 1",
                              "Abyssinian_2 1 1 1"],
             "test.txt": ["american_bulldog_11 2 2 1", "Abyssinian_3 1 1 1"]}
    expected = {"train": {}, "validation": {}}
    for list_name, lines in lists.items():
        _lines(root / "annotations" / list_name, header + lines)
        split = "train" if list_name == "trainval.txt" else "validation"
        for line in lines:
            name, class_id = line.split()[:2]
            write_image(root / "images" / f"{name}.jpg")
            expected[split][f"{name}.jpg"] = int(class_id) - 1
    return Fake(root, expected, {0: "Abyssinian", 1: "american_bulldog"}, 2)


def make_oxford_flowers102(root: Path) -> Fake:
    from scipy.io import savemat

    labels = [3, 1, 2, 3, 1, 2, 2]
    for i in range(1, len(labels) + 1):
        write_image(root / "jpg" / f"image_{i:05d}.jpg", seed=i)
    savemat(root / "imagelabels.mat", {"labels": np.array([labels], dtype=np.float64)})
    savemat(root / "setid.mat", {"trnid": np.array([[1, 2]]), "valid": np.array([[3]]),
                                 "tstid": np.array([[4, 5, 6, 7]])})
    split_ids = {"train": [1, 2, 3], "validation": [4, 5, 6, 7]}
    expected = {s: {f"image_{i:05d}.jpg": labels[i - 1] - 1 for i in ids}
                for s, ids in split_ids.items()}
    return Fake(root, expected, {0: "class_001", 1: "class_002", 2: "class_003"}, 3)


def make_cub200(root: Path) -> Fake:
    base = root / "CUB_200_2011"
    classes = ["001.Black_footed_Albatross", "002.Laysan_Albatross"]
    _lines(base / "classes.txt", [f"{i} {c}" for i, c in enumerate(classes, start=1)])
    images = [(1, 1, 1), (2, 1, 0), (3, 2, 1), (4, 2, 0), (5, 2, 1)]  # id, class, is_train
    paths = []
    expected = {"train": {}, "validation": {}}
    for image_id, class_id, is_train in images:
        relative = f"{classes[class_id - 1]}/bird_{image_id:04d}.jpg"
        write_image(base / "images" / relative, seed=image_id)
        paths.append(f"{image_id} {relative}")
        expected["train" if is_train else "validation"][f"bird_{image_id:04d}.jpg"] = class_id - 1
    _lines(base / "images.txt", paths)
    _lines(base / "image_class_labels.txt", [f"{i} {c}" for i, c, _ in images])
    _lines(base / "train_test_split.txt", [f"{i} {t}" for i, _, t in images])
    _lines(base / "bounding_boxes.txt", [f"{i} 1.0 2.0 4.0 4.0" for i, _, _ in images])
    return Fake(root, expected, dict(enumerate(classes)), 2,
                bboxes={"bird_0001.jpg": (0.25, 0.1, 0.75, 0.5)})


def make_dtd(root: Path) -> Fake:
    base = root / "dtd"
    lists = {"train1.txt": ["banded/banded_0001.jpg", "zigzagged/zigzagged_0001.jpg"],
             "val1.txt": ["banded/banded_0002.jpg"],
             "test1.txt": ["zigzagged/zigzagged_0002.jpg", "banded/banded_0003.jpg"],
             "train2.txt": ["banded/banded_0003.jpg"]}
    names = ["banded", "zigzagged"]
    expected = {"train": {}, "validation": {}}
    for list_name, entries in lists.items():
        _lines(base / "labels" / list_name, entries)
        for entry in entries:
            write_image(base / "images" / entry)
            if list_name.endswith("1.txt"):
                split = "validation" if list_name.startswith("test") else "train"
                expected[split][entry.split("/")[1]] = names.index(entry.split("/")[0])
    return Fake(root, expected, dict(enumerate(names)), 2)


def make_sun397(root: Path) -> Fake:
    entries = {"/a/abbey/sun_aaa.jpg": 0, "/b/bakery/shop/sun_bbb.jpg": 1,
               "/a/abbey/sun_ccc.jpg": 0, "/b/bakery/shop/sun_ddd.jpg": 1}
    for entry in entries:
        write_image(root / "SUN397" / entry.lstrip("/"))
    _lines(root / "SUN397" / "ClassName.txt", ["/a/abbey", "/b/bakery/shop"])
    _lines(root / "Partitions" / "Training_01.txt", list(entries)[:2])
    _lines(root / "Partitions" / "Testing_01.txt", list(entries)[2:])
    expected = {"train": {}, "validation": {}}
    for i, (entry, label) in enumerate(entries.items()):
        expected["train" if i < 2 else "validation"][entry.rsplit("/", 1)[1]] = label
    return Fake(root, expected, {0: "abbey", 1: "bakery/shop"}, 2)


def _cifar_batch(path: Path, labels: list[tuple[int, ...]], seed: int) -> list[np.ndarray]:
    """Write binary records (label bytes + CHW planes); return the HWC images."""
    rng = np.random.default_rng(seed)
    images, chunks = [], []
    for label_bytes in labels:
        image = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
        images.append(image)
        chunks.append(bytes(label_bytes) + image.transpose(2, 0, 1).tobytes())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(chunks))
    return images


def make_cifar10(root: Path) -> Fake:
    base = root / "cifar-10-batches-bin"
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
             "truck"]
    _lines(base / "batches.meta.txt", names + [""])
    expected, pixels = {"train": {}, "validation": {}}, {}
    for batch in range(1, 6):
        labels = [(batch,), (9 - batch,)]
        for i, image in enumerate(_cifar_batch(base / f"data_batch_{batch}.bin", labels, batch)):
            expected["train"][f"data_batch_{batch}_{i:05d}.png"] = labels[i][0]
            pixels[f"data_batch_{batch}_{i:05d}.png"] = image
    for i, image in enumerate(_cifar_batch(base / "test_batch.bin", [(0,), (7,), (3,)], 9)):
        expected["validation"][f"test_batch_{i:05d}.png"] = [0, 7, 3][i]
        pixels[f"test_batch_{i:05d}.png"] = image
    return Fake(root, expected, dict(enumerate(names)), 10, pixels=pixels)


def make_cifar100(root: Path) -> Fake:
    base = root / "cifar-100-binary"
    names = [f"fine_{i:02d}" for i in range(100)]
    _lines(base / "fine_label_names.txt", names)
    _lines(base / "coarse_label_names.txt", [f"coarse_{i:02d}" for i in range(20)])
    splits = {"train": [(3, 42), (19, 99), (0, 0)], "validation": [(7, 5), (1, 64)]}
    expected, pixels = {"train": {}, "validation": {}}, {}
    for split, labels in splits.items():
        stem = "train" if split == "train" else "test"
        for i, image in enumerate(_cifar_batch(base / f"{stem}.bin", labels, len(stem))):
            expected[split][f"{stem}_{i:05d}.png"] = labels[i][1]
            pixels[f"{stem}_{i:05d}.png"] = image
    return Fake(root, expected, dict(enumerate(names)), 100, pixels=pixels)


def _write_idx(path: Path, array: np.ndarray, compress: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        with gzip.open(f"{path}.gz", "wb") as handle:
            handle.write(payload)
    else:
        path.write_bytes(payload)


def _make_idx(root: Path, compress: bool, names: list[str]) -> Fake:
    rng = np.random.default_rng(3)
    expected, pixels = {}, {}
    for prefix, split, count in (("train", "train", 6), ("t10k", "validation", 4)):
        images = rng.integers(0, 255, (count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, count).astype(np.uint8)
        _write_idx(root / f"{prefix}-images-idx3-ubyte", images, compress)
        _write_idx(root / f"{prefix}-labels-idx1-ubyte", labels, compress)
        expected[split] = {f"{prefix}_{i:05d}.png": int(labels[i]) for i in range(count)}
        pixels.update({f"{prefix}_{i:05d}.png": images[i][:, :, None] for i in range(count)})
    return Fake(root, expected, dict(enumerate(names)), 10, pixels=pixels)


def make_mnist(root: Path) -> Fake:
    """Laid out like the npm tarball: package/data/ with uncompressed IDX files."""
    fake = _make_idx(root / "package" / "data", False, [str(d) for d in range(10)])
    fake.raw_dir = root
    return fake


def make_fashion_mnist(root: Path) -> Fake:
    return _make_idx(root, True, ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"])


def make_sop(root: Path) -> Fake:
    base = root / "Stanford_Online_Products"
    header = "image_id class_id super_class_id path"
    # (class_id, super class, product): classes 1-2 train, 3 test (disjoint, as the real split)
    rows = {"Ebay_train.txt": [(1, "bicycle", "111085122871"), (1, "bicycle", "111085122871"),
                               (2, "chair", "121201459822")],
            "Ebay_test.txt": [(3, "chair", "130550491283"), (3, "chair", "130550491283")]}
    expected = {"train": {}, "validation": {}}
    image_id = 0
    for list_name, entries in rows.items():
        lines = [header]
        for n, (class_id, superclass, product) in enumerate(entries):
            image_id += 1
            relative = f"{superclass}_final/{product}_{n}.JPG"
            write_image(base / relative, seed=image_id)
            lines.append(f"{image_id} {class_id} {1 if superclass == 'bicycle' else 2} {relative}")
            expected["train" if list_name == "Ebay_train.txt" else "validation"][f"{product}_{n}.JPG"] = class_id - 1
        _lines(base / list_name, lines)
    names = {0: "bicycle/111085122871", 1: "chair/121201459822", 2: "chair/130550491283"}
    return Fake(root, expected, names, 3)


def make_ifood2019(root: Path) -> Fake:
    names = [f"food_{i}" for i in range(251)]
    _lines(root / "class_list.txt", [f"{i} {name}" for i, name in enumerate(names)])
    expected = {"train": {}, "validation": {}}
    for split, folder, csv, labels in (("train", "train_set", "train_info.csv", [0, 250, 7]),
                                       ("validation", "val_set", "val_info.csv", [250, 3])):
        rows = []
        for i, label in enumerate(labels):
            name = f"{split}_{i:06d}.jpg"
            write_image(root / folder / name, seed=i + label)
            rows.append(f"{name},{label}")
            expected[split][name] = label
        _lines(root / csv, rows)
    return Fake(root, expected, dict(enumerate(names)), 251)


FAKES = {
    "imagefolder": make_imagefolder, "imagenet": make_imagenet, "food101": make_food101,
    "stanford_cars": make_stanford_cars, "fgvc_aircraft": make_fgvc_aircraft,
    "oxford_iiit_pet": make_oxford_iiit_pet, "oxford_flowers102": make_oxford_flowers102,
    "cub200": make_cub200, "dtd": make_dtd, "sun397": make_sun397, "cifar10": make_cifar10,
    "cifar100": make_cifar100, "mnist": make_mnist, "fashion_mnist": make_fashion_mnist,
    "sop": make_sop, "ifood2019": make_ifood2019,
}

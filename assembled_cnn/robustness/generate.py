"""Build ImageNet-C style TFRecord sets: ``<out>/<corruption>/<severity>/validation-0000i-of-0000N``.

Clean images (TFRecords read with ``datasets.schema.parse_example``, or an ImageFolder
tree) are resized (shorter side) and centre-cropped once into ``<out>/_clean``, then each
(corruption, severity, shard) is corrupted, saved as JPEG quality 85 (as ImageNet-C) and
written atomically. A set's ``done.json`` is written last, so reruns skip finished sets
and finished shards.

    python -m assembled_cnn.robustness.generate --data_dir CLEAN --output_dir OUT \
        --corruptions gaussian_noise fog --severities 1 3 --resize 256 --crop 224 --num_workers 2
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import io
import json
import math
import multiprocessing
import os
import sys

import numpy as np
from PIL import Image

from assembled_cnn.utils.io import write_bytes_atomic, write_json_atomic

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm")
JPEG_QUALITY = 85


@dataclasses.dataclass(frozen=True)
class GenerateConfig:
    data_dir: str
    output_dir: str
    corruptions: tuple[str, ...]
    severities: tuple[int, ...] = (1, 2, 3, 4, 5)
    resize: int = 256
    crop: int = 224
    mode: str = "fast"
    num_workers: int = 1
    num_shards: int = 0  # 0: one shard per 1024 images
    seed: int = 0
    batch_size: int = 32
    file_pattern: str = "validation-*"
    label_offset: int = 0


def _read_records(config: GenerateConfig):
    """(encoded, label, filename) from TFRecords if any match, else an ImageFolder tree."""
    files = sorted(glob.glob(os.path.join(config.data_dir, config.file_pattern)))
    if files:
        import tensorflow as tf

        from assembled_cnn.datasets import schema

        for serialized in tf.data.TFRecordDataset(files):
            parsed = schema.parse_example(serialized)
            yield (parsed["image_bytes"].numpy(), int(parsed["label"]),
                   parsed["filename"].numpy().decode())
        return
    classes = sorted(d for d in os.listdir(config.data_dir)
                     if os.path.isdir(os.path.join(config.data_dir, d)))
    if not classes:
        raise FileNotFoundError(f"--data_dir {config.data_dir!r} has no '{config.file_pattern}' "
                                "TFRecords and no class sub-folders")
    for label, name in enumerate(classes):
        folder = os.path.join(config.data_dir, name)
        for file in sorted(os.listdir(folder)):
            if file.lower().endswith(IMAGE_EXTENSIONS):
                with open(os.path.join(folder, file), "rb") as handle:
                    yield handle.read(), label + config.label_offset, f"{name}/{file}"


def resize_and_crop(encoded: bytes, resize: int, crop: int) -> np.ndarray:
    """torchvision ``Resize(resize)`` (PIL bilinear) + ``CenterCrop(crop)``, as ImageNet-C."""
    picture = Image.open(io.BytesIO(encoded)).convert("RGB")
    width, height = picture.size
    if width <= height:
        size = (resize, int(resize * height / width))
    else:
        size = (int(resize * width / height), resize)
    picture = picture.resize(size, Image.BILINEAR)
    left = int(round((size[0] - crop) / 2.0))
    top = int(round((size[1] - crop) / 2.0))
    return np.asarray(picture.crop((left, top, left + crop, top + crop)))


def prepare_clean(config: GenerateConfig) -> dict:
    """Decode, resize and crop every clean image once (kept for resuming)."""
    folder = os.path.join(config.output_dir, "_clean")
    meta_path = os.path.join(folder, "meta.json")
    if os.path.exists(meta_path):
        with open(meta_path) as handle:
            return json.load(handle)
    os.makedirs(folder, exist_ok=True)
    crops, labels, names = [], [], []
    for encoded, label, filename in _read_records(config):
        crops.append(resize_and_crop(encoded, config.resize, config.crop))
        labels.append(label)
        names.append(filename)
    buffer = io.BytesIO()
    np.save(buffer, np.stack(crops))
    write_bytes_atomic(os.path.join(folder, "crops.npy"), buffer.getvalue())
    meta = {"labels": labels, "filenames": names, "resize": config.resize, "crop": config.crop}
    write_bytes_atomic(meta_path, json.dumps(meta).encode())
    return meta


def shard_ranges(count: int, num_shards: int) -> list[tuple[int, int]]:
    num_shards = num_shards or max(1, math.ceil(count / 1024))
    bounds = np.linspace(0, count, num_shards + 1).astype(int)
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def _set_dir(config: GenerateConfig, corruption: str, severity: int) -> str:
    return os.path.join(config.output_dir, corruption, str(severity))


def _shard_path(config, corruption, severity, shard, num_shards) -> str:
    name = f"validation-{shard:05d}-of-{num_shards:05d}"
    return os.path.join(_set_dir(config, corruption, severity), name)


@dataclasses.dataclass(frozen=True)
class ShardTask:
    corruption: str
    severity: int
    shard: int
    num_shards: int
    start: int
    stop: int


def _init_worker() -> None:
    """One thread per worker process: K workers share the machine's cores."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def _encode_jpeg(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()


def write_shard(config: GenerateConfig, task: ShardTask) -> int:
    """Corrupt images [start, stop) and write one TFRecord file atomically."""
    import tensorflow as tf

    from assembled_cnn.datasets import schema
    from assembled_cnn.robustness.corruptions import corrupt

    path = _shard_path(config, task.corruption, task.severity, task.shard, task.num_shards)
    if os.path.exists(path):
        return task.stop - task.start
    crops = np.load(os.path.join(config.output_dir, "_clean", "crops.npy"), mmap_mode="r")
    with open(os.path.join(config.output_dir, "_clean", "meta.json")) as handle:
        meta = json.load(handle)
    tmp = f"{path}.tmp{os.getpid()}"
    with tf.io.TFRecordWriter(tmp) as writer:
        for begin in range(task.start, task.stop, config.batch_size):
            end = min(begin + config.batch_size, task.stop)
            batch = corrupt(np.asarray(crops[begin:end]), task.corruption, task.severity,
                            seed=config.seed, index=begin, mode=config.mode).numpy()
            for offset, pixels in enumerate(batch):
                example = schema.make_example(
                    _encode_jpeg(pixels), meta["labels"][begin + offset],
                    filename=meta["filenames"][begin + offset],
                    height=pixels.shape[0], width=pixels.shape[1])
                writer.write(example.SerializeToString())
    os.replace(tmp, path)
    return task.stop - task.start


def _run_task(args) -> int:
    return write_shard(*args)


def generate(config: GenerateConfig) -> list[str]:
    """Generate every missing set; returns the set directories that are complete."""
    from tqdm import tqdm

    from assembled_cnn.robustness.corruptions import get_spec

    for name in config.corruptions:
        get_spec(name)
    meta = prepare_clean(config)
    ranges = shard_ranges(len(meta["labels"]), config.num_shards)
    pending, tasks = [], []
    for name in config.corruptions:
        for severity in config.severities:
            if os.path.exists(os.path.join(_set_dir(config, name, severity), "done.json")):
                continue
            os.makedirs(_set_dir(config, name, severity), exist_ok=True)
            pending.append((name, severity))
            tasks += [ShardTask(name, severity, i, len(ranges), a, b) for i, (a, b) in enumerate(ranges)]
    progress = tqdm(total=sum(t.stop - t.start for t in tasks), unit="img", desc="corrupting")
    if config.num_workers <= 1:
        for task in tasks:
            progress.update(write_shard(config, task))
    else:
        context = multiprocessing.get_context("spawn")
        with context.Pool(config.num_workers, initializer=_init_worker) as pool:
            for done in pool.imap_unordered(_run_task, [(config, t) for t in tasks]):
                progress.update(done)
    progress.close()
    for name, severity in pending:
        info = {"corruption": name, "severity": severity, "num_images": len(meta["labels"]),
                "num_shards": len(ranges), "mode": config.mode, "seed": config.seed,
                "resize": config.resize, "crop": config.crop, "jpeg_quality": JPEG_QUALITY}
        write_json_atomic(os.path.join(_set_dir(config, name, severity), "done.json"), info, sort_keys=False)
    return [_set_dir(config, n, s) for n in config.corruptions for s in config.severities]


def parse_args(argv=None) -> GenerateConfig:
    from assembled_cnn.robustness.corruptions import CORRUPTIONS, get_corruption_names

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_dir", required=True, help="clean TFRecords or ImageFolder root")
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--corruptions", nargs="+", default=get_corruption_names("all"),
                        choices=list(CORRUPTIONS), metavar="NAME")
    parser.add_argument("--severities", nargs="+", type=int, default=[1, 2, 3, 4, 5],
                        choices=[1, 2, 3, 4, 5])
    parser.add_argument("--resize", type=int, default=256, help="shorter side (292 for BL models)")
    parser.add_argument("--crop", type=int, default=224, help="centre crop (256 for BL models)")
    parser.add_argument("--mode", choices=["fast", "reference"], default="fast")
    parser.add_argument("--num_workers", type=int, default=1)
    parser.add_argument("--num_shards", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--file_pattern", default="validation-*")
    parser.add_argument("--label_offset", type=int, default=0, help="ImageFolder labels only")
    args = parser.parse_args(argv)
    return GenerateConfig(args.data_dir, args.output_dir, tuple(args.corruptions),
                          tuple(args.severities), args.resize, args.crop, args.mode,
                          args.num_workers, args.num_shards, args.seed,
                          file_pattern=args.file_pattern, label_offset=args.label_offset)


def main(argv=None) -> None:
    for path in generate(parse_args(argv)):
        print(path)


if __name__ == "__main__":
    main(sys.argv[1:])

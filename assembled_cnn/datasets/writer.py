"""Shared, resumable, multi-process TFRecord writer for every raw layout.

Each shard is written to a temporary name and renamed when complete, with a small
state file that fingerprints its input; a re-run keeps complete shards whose input
did not change. ``dataset_info.json`` is written last and atomically, so its presence
means the output directory is complete.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from assembled_cnn.datasets.builders.base import RawItem
from assembled_cnn.datasets.image_codec import BadImageError, EncodedImage, crop_encoded, encode_source
from assembled_cnn.utils.io import write_json_atomic

STATE_DIR = ".build_state"
INFO_FILE = "dataset_info.json"
SHARD_NAME = "{split}-{index:05d}-of-{count:05d}"
FORMAT_VERSION = 1


@dataclass
class ShardJob:
    split: str
    index: int
    num_shards: int
    output_dir: str
    storage: str
    items: list[RawItem]
    fingerprint: str

    @property
    def name(self) -> str:
        return SHARD_NAME.format(split=self.split, index=self.index, count=self.num_shards)


@dataclass
class ShardResult:
    split: str
    name: str
    num_records: int
    per_label: dict[int, int]
    skipped: list[dict[str, str]]
    channels: list[int]
    fingerprint: str
    resumed: bool = False


def atomic_write_json(path: Path, payload: dict) -> None:
    """dataset_info.json and shard states keep their insertion order (readable, not sorted)."""
    write_json_atomic(path, payload, sort_keys=False)


def fingerprint_items(items: list[RawItem], storage: str) -> str:
    """Identify a shard's input so a re-run never keeps a shard built from other data."""
    digest = hashlib.sha1(f"v{FORMAT_VERSION}:{storage}".encode())
    for item in items:
        if isinstance(item.source, str):
            digest.update(item.source.encode("utf-8", "surrogateescape"))
        elif isinstance(item.source, np.ndarray):
            digest.update(np.ascontiguousarray(item.source).tobytes())
        else:
            digest.update(hashlib.sha1(bytes(item.source)).digest())
        digest.update(f"|{item.label}|{item.filename}|{item.bboxes_relative}|"
                      f"{item.bboxes_pixels}|{item.synset}|{item.crop_pixels}\n".encode())
    return digest.hexdigest()


def shard_bounds(count: int, num_shards: int) -> list[tuple[int, int]]:
    edges = np.linspace(0, count, num_shards + 1).astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _relative_boxes(item: RawItem, image: EncodedImage) -> list[tuple[float, ...]] | None:
    if item.bboxes_relative:
        return [tuple(float(v) for v in box) for box in item.bboxes_relative]
    if not item.bboxes_pixels:
        return None
    boxes = []
    for xmin, ymin, xmax, ymax in item.bboxes_pixels:
        box = (ymin / image.height, xmin / image.width, ymax / image.height, xmax / image.width)
        boxes.append(tuple(min(max(float(v), 0.0), 1.0) for v in box))
    return boxes


def _item_name(item: RawItem) -> str:
    """The full path when there is one, so a skipped file can be found and fixed."""
    if isinstance(item.source, str):
        return item.source
    return item.filename or "<in-memory image>"


def _serialize(item: RawItem, image: EncodedImage) -> bytes:
    from assembled_cnn.datasets.schema import make_example

    example = make_example(
        image.data, item.label, filename=item.filename, height=image.height, width=image.width,
        image_format=image.image_format, synset=item.synset, text=item.text,
        bboxes=_relative_boxes(item, image), channels=image.channels,
        colorspace=image.colorspace)
    return example.SerializeToString()


def _load_finished(job: ShardJob) -> ShardResult | None:
    state_path = Path(job.output_dir) / STATE_DIR / f"{job.name}.json"
    if not (Path(job.output_dir) / job.name).is_file() or not state_path.is_file():
        return None
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if state.get("fingerprint") != job.fingerprint:
        return None
    state["per_label"] = {int(k): v for k, v in state["per_label"].items()}
    return ShardResult(**{**state, "resumed": True})


def encode_item(task: tuple[RawItem, str]) -> EncodedImage | str:
    """Decode/re-encode one image (the expensive part, run in workers); a str is the skip reason."""
    item, storage = task
    try:
        image = encode_source(item.source, storage)
        return crop_encoded(image, item.crop_pixels) if item.crop_pixels else image
    except BadImageError as error:
        return str(error)


def write_shard(job: ShardJob, encoded: Iterable[EncodedImage | str],
                on_item: Callable[[], None] | None = None) -> ShardResult:
    """Write one shard from its items' encodings (in item order) via a temp file + rename."""
    import tensorflow as tf  # only the writing process needs TensorFlow

    output_dir = Path(job.output_dir)
    tmp_path = output_dir / f".{job.name}.tmp-{os.getpid()}"
    per_label: dict[int, int] = {}
    skipped, channels = [], set()
    with tf.io.TFRecordWriter(str(tmp_path)) as writer:
        for item, image in zip(job.items, encoded):
            if isinstance(image, str):
                skipped.append({"split": job.split, "file": _item_name(item), "reason": image})
            else:
                writer.write(_serialize(item, image))
                per_label[item.label] = per_label.get(item.label, 0) + 1
                channels.add(image.channels)
            if on_item is not None:
                on_item()
    os.replace(tmp_path, output_dir / job.name)
    result = ShardResult(job.split, job.name, sum(per_label.values()), per_label, skipped,
                         sorted(channels), job.fingerprint)
    state = asdict(result)
    state.pop("resumed")
    atomic_write_json(output_dir / STATE_DIR / f"{job.name}.json", state)
    return result


def plan_split(split: str, items: list[RawItem], num_shards: int, output_dir: Path,
               storage: str) -> list[ShardJob]:
    num_shards = max(1, min(num_shards, len(items)))
    jobs = []
    for index, (start, stop) in enumerate(shard_bounds(len(items), num_shards)):
        chunk = items[start:stop]
        jobs.append(ShardJob(split, index, num_shards, str(output_dir), storage, chunk,
                             fingerprint_items(chunk, storage)))
    return jobs


def run_jobs(jobs: list[ShardJob], num_workers: int) -> list[ShardResult]:
    """Write every unfinished shard; images are encoded by `num_workers` processes.

    Workers only decode and re-encode with Pillow (they never import TensorFlow, so
    they start fast); this process serialises and writes records in shard order.
    """
    from tqdm import tqdm

    finished = {job.name: _load_finished(job) for job in jobs}
    todo = [job for job in jobs if finished[job.name] is None]
    tasks = ((item, job.storage) for job in todo for item in job.items)
    results = [r for r in finished.values() if r is not None]
    total = sum(len(job.items) for job in todo)
    pool = None
    if num_workers > 1 and total:
        pool = multiprocessing.get_context("spawn").Pool(num_workers)
    try:
        encoded = pool.imap(encode_item, tasks, chunksize=16) if pool else map(encode_item, tasks)
        with tqdm(total=total, unit="img", desc="writing shards", file=sys.stderr,
                  disable=None) as progress:
            for job in todo:
                chunk = itertools.islice(encoded, len(job.items))
                results.append(write_shard(job, chunk, on_item=lambda: progress.update(1)))
    finally:
        if pool is not None:
            pool.terminate()
    return results


def remove_stale_shards(output_dir: Path, keep: set[str], splits: list[str]) -> list[str]:
    """Delete shards of an earlier run with another shard count, so globs see only this build."""
    removed = []
    for split in splits:
        for path in output_dir.glob(f"{split}-?????-of-?????"):
            if path.name not in keep:
                path.unlink()
                (output_dir / STATE_DIR / f"{path.name}.json").unlink(missing_ok=True)
                removed.append(path.name)
    return removed

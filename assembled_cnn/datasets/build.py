"""Build TFRecords from a raw dataset in its official layout.

    python -m assembled_cnn.datasets.build --dataset=food101 --raw_dir=/data/food-101 \
        --output_dir=/data/tfrecords/food101 [--num_shards=128] [--num_workers=8]

Output: ``train-%05d-of-%05d`` / ``validation-%05d-of-%05d`` shards in the original
schema, then ``dataset_info.json`` (counts, label map, skipped files) written last.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from pathlib import Path

from assembled_cnn.datasets.builders import canonical_name, get_reader
from assembled_cnn.datasets.builders.base import (SPLITS, TRAIN, BuildConfig, DatasetLayoutError,
                                                  RawDataset)
from assembled_cnn.datasets.writer import (INFO_FILE, STATE_DIR, FORMAT_VERSION, ShardResult,
                                           atomic_write_json, plan_split, remove_stale_shards,
                                           run_jobs)

SHUFFLE_SEED = 12345  # the original builders' random.seed
RECORDS_PER_SHARD = 1024
MAX_SHARDS = {"train": 1024, "validation": 128}
MAX_PRINTED_SKIPS = 20


def default_num_shards(split: str, count: int, requested: int | None) -> int:
    """--num_shards applies to train; validation gets an eighth (the original 1024/128, 128/16)."""
    if requested is not None:
        return requested if split == TRAIN else max(1, requested // 8)
    return max(1, min(MAX_SHARDS.get(split, 128), math.ceil(count / RECORDS_PER_SHARD)))


def _split_summary(raw: RawDataset, results: list[ShardResult], split: str) -> dict:
    mine = sorted((r for r in results if r.split == split), key=lambda r: r.name)
    label_map = raw.label_map()
    per_class: dict[str, int] = {name: 0 for name in label_map.values()}
    for result in mine:
        for label, count in result.per_label.items():
            per_class[label_map.get(label, str(label))] = (
                per_class.get(label_map.get(label, str(label)), 0) + count)
    return {
        "num_records": sum(r.num_records for r in mine),
        "num_shards": len(mine),
        "file_pattern": f"{split}-*",
        "files": [r.name for r in mine],
        "per_class": per_class,
    }


def dataset_info_payload(name: str, raw: RawDataset, results: list[ShardResult],
                         raw_dir: Path) -> dict:
    skipped = [entry for r in sorted(results, key=lambda r: r.name) for entry in r.skipped]
    channels = sorted({c for r in results for c in r.channels}) or [3]
    payload = {
        "format_version": FORMAT_VERSION,
        "name": name,
        "num_classes": raw.label_offset + len(raw.class_names),
        "first_label": raw.label_offset,
        "image_format": "PNG" if raw.storage == "png" else "JPEG",
        "channels": max(channels),
        "splits": {split: _split_summary(raw, results, split)
                   for split in SPLITS if raw.splits.get(split)},
        "label_map": {str(k): v for k, v in raw.label_map().items()},
        "skipped": {"count": len(skipped), "files": skipped},
        "source": {"raw_dir": str(raw_dir), "builder": name},
    }
    if raw.class_texts:
        payload["label_text"] = {str(i + raw.label_offset): text
                                 for i, text in enumerate(raw.class_texts)}
    if raw.notes:
        payload["notes"] = raw.notes
    return payload


def report_skipped(skipped: list[dict]) -> None:
    if not skipped:
        return
    print(f"skipped {len(skipped)} unreadable file(s) (listed in {INFO_FILE}):", file=sys.stderr)
    for entry in skipped[:MAX_PRINTED_SKIPS]:
        print(f"  [{entry['split']}] {entry['file']}: {entry['reason']}", file=sys.stderr)
    if len(skipped) > MAX_PRINTED_SKIPS:
        print(f"  ... and {len(skipped) - MAX_PRINTED_SKIPS} more", file=sys.stderr)


def write_records(name: str, raw: RawDataset, output_dir: Path, raw_dir: Path,
                  num_shards: int | None = None, num_workers: int = 1) -> dict:
    """Shard, encode and write a RawDataset; returns the dataset_info.json payload."""
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / STATE_DIR).mkdir(exist_ok=True)
    (output_dir / INFO_FILE).unlink(missing_ok=True)  # its presence must mean "complete"
    jobs = []
    for split in SPLITS:
        items = list(raw.splits.get(split) or [])
        if not items:
            continue
        if split == TRAIN:
            random.Random(SHUFFLE_SEED).shuffle(items)
        count = default_num_shards(split, len(items), num_shards)
        jobs.extend(plan_split(split, items, count, output_dir, raw.storage))
    if not jobs:
        raise DatasetLayoutError(f"the {name} reader found no images under {raw_dir}")
    results = run_jobs(jobs, num_workers)
    remove_stale_shards(output_dir, {job.name for job in jobs}, list(SPLITS))
    payload = dataset_info_payload(name, raw, results, raw_dir)
    report_skipped(payload["skipped"]["files"])
    atomic_write_json(output_dir / INFO_FILE, payload)
    return payload


def build_dataset(dataset: str, raw_dir: str | Path, output_dir: str | Path,
                  num_shards: int | None = None, num_workers: int = 1,
                  validation_fraction: float = 0.0, crop_to_bbox: bool = False) -> dict:
    """Read the raw layout of `dataset` and write its TFRecords; returns dataset_info."""
    raw_path, out_path = Path(raw_dir).expanduser(), Path(output_dir).expanduser()
    if not raw_path.is_dir():
        raise DatasetLayoutError(f"--raw_dir={raw_path} is not a directory; point it at the "
                                 "extracted dataset.")
    if not 0.0 <= validation_fraction < 1.0:
        raise DatasetLayoutError(f"--validation_fraction={validation_fraction} must be in [0, 1).")
    if num_shards is not None and num_shards < 1:
        raise DatasetLayoutError(f"--num_shards={num_shards} must be at least 1.")
    name = canonical_name(dataset)
    raw = get_reader(name)(raw_path, BuildConfig(validation_fraction=validation_fraction, crop_to_bbox=crop_to_bbox))
    return write_records(name, raw, out_path, raw_path, num_shards, max(1, num_workers))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m assembled_cnn.datasets.build",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", required=True, help="layout name, e.g. imagefolder, food101")
    parser.add_argument("--raw_dir", required=True, help="the extracted official dataset")
    parser.add_argument("--output_dir", required=True, help="where shards are written")
    parser.add_argument("--num_shards", type=int, default=None,
                        help="train shards (validation gets 1/8); default ~1024 records per shard")
    parser.add_argument("--num_workers", type=int, default=1,
                        help="processes that decode and re-encode images (1 = in-process)")
    parser.add_argument("--validation_fraction", type=float, default=0.0,
                        help="per-class held-out fraction when the layout has no official split")
    parser.add_argument("--crop_to_bbox", action="store_true",
                        help="cub200_zeroshot / cars196_zeroshot: store each image's bounding-box crop")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        info = build_dataset(args.dataset, args.raw_dir, args.output_dir, args.num_shards,
                             args.num_workers, args.validation_fraction, args.crop_to_bbox)
    except DatasetLayoutError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    counts = ", ".join(f"{s}={v['num_records']}" for s, v in info["splits"].items())
    print(f"wrote {args.output_dir}: {counts}, {info['skipped']['count']} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

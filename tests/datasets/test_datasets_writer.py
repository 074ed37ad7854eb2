"""The shared writer: bad input, resumable shards, multi-process, dataset_info.json."""

import json
import os
from pathlib import Path

import pytest

from assembled_cnn.datasets import writer
from assembled_cnn.datasets.build import build_dataset, default_num_shards, main
from datasets_testlib import image_bytes, load_info, read_split, write_image


def _tree(root: Path, per_class: int = 4) -> Path:
    for name in ("cat", "dog"):
        for i in range(per_class):
            write_image(root / name / f"{name}_{i}.jpg", seed=i)
    return root


def _shard_ids(output: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(output.glob("*-of-*")) if not p.name.startswith(".")}


def test_bad_files_are_skipped_listed_and_odd_ones_converted(tf, tmp_path, capsys):
    raw = _tree(tmp_path / "raw", per_class=1)
    (raw / "cat" / "truncated.jpg").write_bytes(image_bytes("JPEG")[:100])
    (raw / "dog" / "notes.jpg").write_bytes(b"not an image at all")
    odd = {"cmyk.jpg": ("JPEG", "CMYK"), "gray.jpg": ("JPEG", "L"), "rgba.jpg": ("PNG", "RGBA"),
           "png_named.jpg": ("PNG", "RGB"), "anim.jpg": ("GIF", "P"), "palette.png": ("PNG", "P")}
    for name, (fmt, mode) in odd.items():
        (raw / "cat" / name).write_bytes(image_bytes(fmt, mode))
    info = build_dataset("imagefolder", raw, tmp_path / "out")
    skipped = {Path(e["file"]).name: e["reason"] for e in info["skipped"]["files"]}
    assert info["skipped"]["count"] == 2
    assert set(skipped) == {"truncated.jpg", "notes.jpg"}
    assert "truncated" in skipped["truncated.jpg"] and "not an image" in skipped["notes.jpg"]
    assert str(raw / "dog" / "notes.jpg") in {e["file"] for e in info["skipped"]["files"]}
    err = capsys.readouterr().err
    assert "skipped 2" in err and "notes.jpg" in err
    records = read_split(tmp_path / "out", "train")
    assert len(records) == 2 + len(odd) == info["splits"]["train"]["num_records"]
    for record in records:
        assert record["image_bytes"][:2] == b"\xff\xd8", record["filename"]
        assert tf.io.decode_jpeg(record["image_bytes"]).shape[-1] == 3
    originals = {r["filename"].decode(): r["image_bytes"] for r in records}
    assert originals["cat_0.jpg"] == (raw / "cat" / "cat_0.jpg").read_bytes()


def test_rerun_keeps_finished_shards_and_redoes_missing_ones(tmp_path):
    raw = _tree(tmp_path / "raw")
    output = tmp_path / "out"
    build_dataset("imagefolder", raw, output, num_shards=3, validation_fraction=0.25)
    first = _shard_ids(output)
    assert len([n for n in first if n.startswith("train-")]) == 3
    info_mtime = (output / "dataset_info.json").stat().st_mtime_ns
    build_dataset("imagefolder", raw, output, num_shards=3, validation_fraction=0.25)
    assert _shard_ids(output) == first
    assert (output / "dataset_info.json").stat().st_mtime_ns != info_mtime
    (output / "train-00001-of-00003").unlink()
    (output / ".train-00002-of-00003.tmp-999").write_bytes(b"partial")  # a crashed worker
    build_dataset("imagefolder", raw, output, num_shards=3, validation_fraction=0.25)
    second = _shard_ids(output)
    assert second["train-00000-of-00003"] == first["train-00000-of-00003"]
    assert second["train-00002-of-00003"] == first["train-00002-of-00003"]
    assert "train-00001-of-00003" in second
    assert load_info(output)["splits"]["train"]["num_records"] == 6


def test_changed_input_rebuilds_and_stale_shards_go(tmp_path):
    raw = _tree(tmp_path / "raw")
    output = tmp_path / "out"
    build_dataset("imagefolder", raw, output, num_shards=2)
    before = _shard_ids(output)
    write_image(raw / "dog" / "dog_new.jpg", seed=9)
    build_dataset("imagefolder", raw, output, num_shards=2)
    after = _shard_ids(output)
    assert set(after) == set(before)
    assert any(after[n] != before[n] for n in before)
    assert len(read_split(output, "train")) == 9
    build_dataset("imagefolder", raw, output, num_shards=4)
    assert sorted(p.name for p in output.glob("train-*")) == [
        f"train-{i:05d}-of-00004" for i in range(4)]
    assert not list((output / writer.STATE_DIR).glob("*-of-00002.json"))


def test_multiprocess_build_matches_single_process(tmp_path):
    raw = _tree(tmp_path / "raw", per_class=3)
    single = build_dataset("imagefolder", raw, tmp_path / "one", num_shards=2,
                           validation_fraction=0.34)
    multi = build_dataset("imagefolder", raw, tmp_path / "two", num_shards=2, num_workers=2,
                          validation_fraction=0.34)
    assert multi["splits"] == single["splits"]
    for split in ("train", "validation"):
        # protobuf map order may differ between processes, so compare parsed records
        one, two = ([(r["filename"], r["label"], r["image_bytes"]) for r in read_split(d, split)]
                    for d in (tmp_path / "one", tmp_path / "two"))
        assert one == two and len(one) == multi["splits"][split]["num_records"]


def test_info_file_is_written_last_and_atomically(tmp_path, monkeypatch):
    raw = _tree(tmp_path / "raw")
    output = tmp_path / "out"
    build_dataset("imagefolder", raw, output)
    written = []
    real_replace = os.replace

    def recording_replace(src, dst):
        written.append(Path(dst).name)
        return real_replace(src, dst)

    monkeypatch.setattr(writer.os, "replace", recording_replace)
    (output / "train-00000-of-00001").unlink()
    build_dataset("imagefolder", raw, output)
    assert written[-1] == "dataset_info.json" and "train-00000-of-00001" in written
    assert not list(output.glob(".dataset_info.json.tmp-*"))
    json.loads((output / "dataset_info.json").read_text())


def test_failed_rebuild_leaves_no_stale_info(tmp_path):
    raw = _tree(tmp_path / "raw")
    output = tmp_path / "out"
    build_dataset("imagefolder", raw, output)
    assert (output / "dataset_info.json").is_file()
    for path in (raw / "dog").iterdir():
        path.unlink()
    with pytest.raises(ValueError, match="is empty"):
        build_dataset("imagefolder", raw, output)
    assert (output / "dataset_info.json").is_file()  # reader failed before anything changed
    (raw / "dog" / "dog_0.jpg").write_bytes(image_bytes())

    def crash(jobs, num_workers):
        raise KeyboardInterrupt

    import assembled_cnn.datasets.build as build_module
    original, build_module.run_jobs = build_module.run_jobs, crash
    try:
        with pytest.raises(KeyboardInterrupt):
            build_dataset("imagefolder", raw, output)
    finally:
        build_module.run_jobs = original
    assert not (output / "dataset_info.json").exists()  # a half-written build is never "complete"


def test_shard_counts_and_names():
    assert default_num_shards("train", 60000, None) == 59
    assert default_num_shards("validation", 10000, None) == 10
    assert default_num_shards("train", 10, None) == 1
    assert default_num_shards("train", 10**7, None) == 1024
    assert default_num_shards("train", 100, 128) == 128
    assert default_num_shards("validation", 100, 128) == 16
    assert writer.shard_bounds(10, 3) == [(0, 3), (3, 6), (6, 10)]


def test_cli_flags_and_bad_values(tmp_path, capsys):
    raw = _tree(tmp_path / "raw", per_class=2)
    assert main([f"--dataset=imagefolder", f"--raw_dir={raw}", f"--output_dir={tmp_path / 'o'}",
                 "--num_shards=2", "--num_workers=1", "--validation_fraction=0.5"]) == 0
    assert "train=2, validation=2" in capsys.readouterr().out
    assert main(["--dataset=imagefolder", f"--raw_dir={raw}", f"--output_dir={tmp_path / 'o'}",
                 "--validation_fraction=1.5"]) == 2
    assert "--validation_fraction" in capsys.readouterr().err
    assert main(["--dataset=imagefolder", f"--raw_dir={tmp_path / 'nope'}",
                 f"--output_dir={tmp_path / 'o'}"]) == 2
    assert "--raw_dir" in capsys.readouterr().err

"""plot_curves / bar_chart write valid PNGs of the documented pixel size, atomically."""

import json
import os
import struct

import pytest

from assembled_cnn.report import MetricsLogError, bar_chart, plot_curves, read_metrics_jsonl

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(path) -> tuple[int, int]:
    """(width, height) from the IHDR chunk, after checking the PNG signature."""
    with open(path, "rb") as handle:
        header = handle.read(24)
    assert header[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert header[12:16] == b"IHDR"
    return struct.unpack(">II", header[16:24])


def write_log(path, records, tail: str = "") -> str:
    with open(path, "w") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in records)
        handle.write(tail)
    return str(path)


def training_log(steps: int = 10) -> list[dict]:
    records = []
    for step in range(0, steps * 100, 100):
        records.append({"step": step, "mode": "train", "loss": 3.0 / (1 + step / 300),
                        "learning_rate": 0.1 * (1 - step / (steps * 100))})
        if step % 300 == 0:
            records.append({"step": step, "mode": "eval", "loss": 2.5 / (1 + step / 300),
                            "top1": 0.2 + step / 2000, "top5": 0.5})
    return records


def test_plot_curves_one_panel_per_key(tmp_path):
    log = write_log(tmp_path / "metrics.jsonl", training_log())
    png = plot_curves(log, str(tmp_path / "out" / "curves.png"), dpi=50)
    assert png_size(png) == (3 * 4 * 50, 3 * 50)  # loss, learning_rate, top1 panels
    png2 = plot_curves(log, str(tmp_path / "top.png"), keys=("top1", "top5", "absent"), dpi=40)
    assert png_size(png2) == (2 * 4 * 40, 3 * 40)
    assert sorted(os.listdir(tmp_path)) == ["metrics.jsonl", "out", "top.png"]  # no temp files


def test_plot_curves_pillow_reads_it(tmp_path):
    from PIL import Image
    log = write_log(tmp_path / "metrics.jsonl", training_log(3))
    png = plot_curves(log, str(tmp_path / "c.png"), keys=("loss",), title="run")
    with Image.open(png) as image:
        image.verify()
        assert image.format == "PNG" and image.size == (400, 300)


def test_truncated_last_line_is_skipped_but_broken_middle_line_is_an_error(tmp_path):
    log = write_log(tmp_path / "partial.jsonl", training_log(2), tail='{"step": 900, "mo')
    assert len(read_metrics_jsonl(log)) == len(training_log(2))
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"step": 1, "loss": 1}\nnot json\n{"step": 2, "loss": 0.5}\n')
    with pytest.raises(MetricsLogError, match="broken.jsonl:2"):
        read_metrics_jsonl(str(broken))


def test_plot_curves_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        plot_curves(str(tmp_path / "nope.jsonl"), str(tmp_path / "x.png"))
    log = write_log(tmp_path / "m.jsonl", [{"step": 1, "mode": "train", "loss": 1.0}])
    with pytest.raises(ValueError, match="no numeric values"):
        plot_curves(log, str(tmp_path / "x.png"), keys=("top1",))
    assert not (tmp_path / "x.png").exists()


def test_bar_chart_size_and_reference_line(tmp_path):
    values = {"ResNet-50": 76.3, "Assemble-R50": 82.78, "Assemble-R152": 84.19}
    png = bar_chart(values, str(tmp_path / "bars.png"), "top-1", "%", reference_line=80.0,
                    reference_label="paper")
    assert png_size(png) == (600, 400)
    many = {f"corruption_{i}": float(i) for i in range(19)}
    assert png_size(bar_chart(many, str(tmp_path / "many.png"), "CE", "%", dpi=80)) == (480, 320)
    with pytest.raises(ValueError, match="no values"):
        bar_chart({}, str(tmp_path / "empty.png"), "t", "y")

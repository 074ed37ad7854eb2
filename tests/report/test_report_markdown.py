"""markdown_table renders the values; write_markdown writes the report atomically."""

import os

import pytest

from assembled_cnn.report import Section, markdown_table, render_markdown, write_markdown

ROWS = [{"model": "ResNet-50", "top1": 76.3, "mCE": 76.0, "params": 25_557_032},
        {"model": "Assemble|R50", "top1": 82.78, "mCE": None}]


def test_table_renders_values_with_float_format():
    table = markdown_table(ROWS, ["model", "top1", "mCE"], ".1f")
    lines = table.strip().splitlines()
    assert lines[0] == "| model | top1 | mCE |"
    assert lines[1] == "|---|---:|---:|"  # numbers right-aligned
    assert lines[2] == "| ResNet-50 | 76.3 | 76.0 |"
    assert lines[3] == "| Assemble\\|R50 | 82.8 |  |"  # pipe escaped, missing cell empty


def test_table_headers_mapping_template_format_and_default_columns():
    table = markdown_table(ROWS, {"model": "Model", "top1": "Top-1 (%)"}, "{:.2f}%")
    assert "| Model | Top-1 (%) |" in table and "| Assemble\\|R50 | 82.78% |" in table
    every = markdown_table(ROWS)
    assert every.splitlines()[0] == "| model | top1 | mCE | params |"
    assert "25557032" in every
    with pytest.raises(ValueError, match="at least one column"):
        markdown_table([], [])


def test_write_markdown_sections_images_and_atomic(tmp_path):
    report = tmp_path / "report" / "summary.md"
    image = tmp_path / "report" / "plots" / "curves.png"
    sections = [Section("Accuracy", markdown_table(ROWS, ["model", "top1"])),
                Section("Curves", "Train loss and eval top-1.", image=str(image)),
                ("Notes", "fp32, batch 64")]
    write_markdown(str(report), sections, title="Demo run")
    text = report.read_text()
    assert text.startswith("# Demo run\n")
    assert "## Accuracy\n" in text and "| ResNet-50 | 76.30 |" in text
    assert "![Curves](plots/curves.png)" in text
    assert "## Notes\n" in text and "fp32, batch 64" in text
    assert os.listdir(report.parent) == ["summary.md"]


def test_render_markdown_from_mapping_and_bad_section():
    assert render_markdown({"A": "x"}) == "## A\n\nx\n"
    with pytest.raises(TypeError, match="Section"):
        render_markdown([42])

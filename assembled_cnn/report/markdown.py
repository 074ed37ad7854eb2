"""Markdown tables and reports: plain GitHub-flavoured markdown, nothing to install to read it."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from assembled_cnn.utils.io import write_text_atomic

MISSING = ""


@dataclass(frozen=True)
class Section:
    """One heading with text, an optional table (already rendered) and an optional image."""

    title: str
    body: str = ""
    image: str | None = None  # path of a PNG; written relative to the markdown file
    level: int = 2


def format_cell(value: Any, float_format: str = ".2f") -> str:
    """Floats with `float_format` (a format spec like '.2f' or a template like '{:.1%}')."""
    if value is None:
        return MISSING
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return float_format.format(value) if "{" in float_format else format(value, float_format)
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(rows: Sequence[Mapping[str, Any]],
                   columns: Sequence[str] | Mapping[str, str] | None = None,
                   float_format: str = ".2f") -> str:
    """A markdown table of `rows`; `columns` picks and orders keys (a mapping key → header
    renames them). Without `columns`, every key in order of first appearance. Missing cells
    are empty; numbers are right-aligned."""
    if columns is None:
        keys = list(dict.fromkeys(key for row in rows for key in row))
        headers = keys
    elif isinstance(columns, Mapping):
        keys, headers = list(columns), [str(h) for h in columns.values()]
    else:
        keys, headers = list(columns), list(columns)
    if not keys:
        raise ValueError("markdown_table needs at least one column")
    numeric = [all(isinstance(row.get(k), (int, float)) and not isinstance(row.get(k), bool)
                   for row in rows if row.get(k) is not None) and any(row.get(k) is not None for row in rows)
               for k in keys]
    lines = ["| " + " | ".join(format_cell(h) for h in headers) + " |",
             "|" + "|".join("---:" if is_number else "---" for is_number in numeric) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(format_cell(row.get(k), float_format) for k in keys) + " |")
    return "\n".join(lines) + "\n"


def _as_sections(sections: Iterable[Section] | Mapping[str, str]) -> list[Section]:
    if isinstance(sections, Mapping):
        return [Section(str(title), str(body)) for title, body in sections.items()]
    result = []
    for section in sections:
        if isinstance(section, Section):
            result.append(section)
        elif isinstance(section, tuple) and len(section) == 2:
            result.append(Section(str(section[0]), str(section[1])))
        else:
            raise TypeError(f"a section must be a Section or a (title, body) pair, got {section!r}")
    return result


def render_markdown(sections: Iterable[Section] | Mapping[str, str], title: str | None = None,
                    base_dir: str | None = None) -> str:
    """The markdown text; image paths are made relative to `base_dir` (the file's folder)."""
    parts = [f"# {title}\n"] if title else []
    for section in _as_sections(sections):
        parts.append(f"{'#' * max(1, min(6, section.level))} {section.title}\n")
        if section.body:
            parts.append(section.body.rstrip("\n") + "\n")
        if section.image:
            image = section.image
            if base_dir is not None and os.path.isabs(image):
                image = os.path.relpath(image, base_dir)
            parts.append(f"![{section.title}]({image.replace(os.sep, '/')})\n")
    return "\n".join(parts)


def write_markdown(path: str, sections: Iterable[Section] | Mapping[str, str],
                   title: str | None = None) -> str:
    """Write the report to `path` atomically; returns the path."""
    base_dir = os.path.dirname(os.path.abspath(path))
    write_text_atomic(path, render_markdown(sections, title, base_dir))
    return path

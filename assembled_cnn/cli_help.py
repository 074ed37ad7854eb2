"""`main_classification.py --help` and docs/flags.md: the flags, grouped, with their defaults.

absl's own `--help` lists only flags defined in the main module and `--helpfull` lists 300+
(absl-testing, TPU and the ~25 flags kept only for the original's scripts). Both texts here are
generated from the settings' declarations (`assembled_cnn.settings`, the config dataclasses), so
a flag's help, group and default are written once. Regenerate the doc after changing a setting:

    python -m assembled_cnn.cli_help --write docs/flags.md
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import textwrap

from assembled_cnn.flags import DEBUG, IGNORED, SECTIONS, flag_specs
from assembled_cnn.settings import GROUPS, INTERNAL_KEY, FlagSpec, field_default, format_value

DOC_PATH = "docs/flags.md"


def grouped_specs(names=None) -> dict[str, list[FlagSpec]]:
    """The flags (those in `names` when given) under their --help heading, in GROUPS order."""
    specs = [spec for spec in (*flag_specs(), DEBUG) if names is None or spec.name in names]
    return {group: [s for s in specs if s.flag.group == group] for group in GROUPS}


def _describe(spec: FlagSpec) -> str:
    name = f"--{spec.name}" + (f" (-{spec.flag.short_name})" if spec.flag.short_name else "")
    choices = f" ({', '.join(spec.flag.choices)})" if spec.flag.choices else ""
    default = f" [default: {spec.shown_default}]" if spec.shown_default else ""
    body = textwrap.fill(f"{spec.flag.help}{choices}{default}", width=96, initial_indent="      ",
                         subsequent_indent="      ")
    return f"  {name}\n{body}"


def render_help(fv, intro: str) -> str:
    """The grouped help text of the declared flags that `fv` defines."""
    parts = [intro.strip(), ""]
    for title, specs in grouped_specs(set(fv)).items():
        if specs:
            parts += [f"{title}:", *(_describe(s) for s in specs), ""]
    parts.append("Every flag, including those kept only for the original's scripts: --helpfull")
    return "\n".join(parts) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _markdown_row(spec: FlagSpec) -> str:
    name = f"`--{spec.name}`" + (f" (`-{spec.flag.short_name}`)" if spec.flag.short_name else "")
    field = f"`{spec.section}.{spec.field_name}`" if spec.section else "command line only"
    choices = f" (one of: {', '.join(spec.flag.choices)})" if spec.flag.choices else ""
    return f"| {name} | {_cell(_code(spec.shown_default, spec.flag.unset))} | {field} | {_cell(spec.flag.help)}" \
           f"{_cell(choices)} |"


def _code(value: str, prose: str = "") -> str:
    """A default in code style; nothing when there is none; prose (what an unset flag means) as is."""
    return prose or (f"`{value}`" if value else "")


def _internal_rows() -> list[str]:
    rows = []
    for section, cls in SECTIONS.items():
        for item in dataclasses.fields(cls):
            if INTERNAL_KEY in item.metadata:
                value = _code(format_value(field_default(item)))
                rows.append(f"| `{section}.{item.name}` | {value} | {_cell(item.metadata[INTERNAL_KEY])} |")
    return rows


def render_markdown() -> str:
    """docs/flags.md: every flag of main_classification.py, grouped as in --help."""
    parts = ["# Flags of main_classification.py", "",
             "Generated from the settings' declarations (the config dataclasses in `assembled_cnn/config.py` and",
             "`assembled_cnn/nets/config.py`); do not edit by hand, run",
             "`python -m assembled_cnn.cli_help --write docs/flags.md`. A model flag that is not given keeps",
             "the `--model` preset's value. `main_classification.py --help` prints the same, grouped.", ""]
    for title, specs in grouped_specs().items():
        parts += [f"## {title}", "", "| Flag | Default | Setting | Description |", "|---|---|---|---|",
                  *(_markdown_row(s) for s in specs), ""]
    parts += ["## Settings no flag sets", "", "| Setting | Default | Set by |", "|---|---|---|",
              *_internal_rows(), "",
              "## Accepted for the original's scripts and ignored", "",
              "Hidden from `--help`; a warning names each one given: "
              + ", ".join(f"`--{name}`" for name in IGNORED) + ".", ""]
    return "\n".join(parts)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assembled_cnn.cli_help", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", metavar="PATH", help="write the flags table (docs/flags.md) here")
    args = parser.parse_args(argv)
    text = render_markdown()
    if args.write:
        with open(args.write, "w") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Each setting is declared once: a config dataclass field whose metadata says how it is a flag.

    batch_size: int = setting(32, "global batch size", "Training", short_name="bs")

`setting` declares a field together with its command-line flag (the original's name where it
differs from the field's, short alias, help text, the group of the grouped `--help`, and the
parser from the flag's value to the field's value). `internal` declares a field that no flag sets
and says why. From these declarations `assembled_cnn.flags` defines the absl flags and turns
parsed flags into an `ExperimentConfig`, `assembled_cnn.cli_help` writes `--help` and
docs/flags.md, and the transfer study takes its shared options from them.

This module imports nothing heavy: the config modules use it.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, Callable

from assembled_cnn.errors import UserError

FLAG_KEY = "flag"
INTERNAL_KEY = "internal"

# The headings of the grouped --help and of docs/flags.md, in this order.
GROUPS = ("Experiment", "Data", "Model", "Training", "Regularisation and distillation", "Fine-tuning",
          "Heads and retrieval", "Evaluation and checkpoints", "Distribution")

_KINDS = {bool: "bool", int: "integer", float: "float", str: "string", list: "list", dict: "list"}


class ConfigError(UserError):
    """A flag or setting is invalid or contradicts another; the message says which and why."""


@dataclass(frozen=True)
class Flag:
    """How one setting is given on the command line."""

    help: str
    group: str
    name: str = ""                   # the flag's name where it differs from the field's
    short_name: str | None = None
    choices: tuple[str, ...] = ()    # an enum flag (absl rejects other values while parsing)
    parse: Callable[[Any], Any] | None = None  # the flag's value -> the field's value; ValueError if invalid
    unset: str = ""                  # non-empty: the flag defaults to unset (None) and this says what applies

    def __post_init__(self):
        if self.group not in GROUPS:
            raise ValueError(f"flag group {self.group!r} is not one of {GROUPS}")


@dataclass(frozen=True)
class FlagSpec:
    """One command-line flag: declared by a config field, or a command-line-only flag."""

    name: str
    kind: str                        # bool, integer, float, string, enum or list (absl's DEFINE_*)
    default: Any                     # what absl holds when the flag is not given
    flag: Flag
    section: str | None = None       # the ExperimentConfig part of the field ("model", "data", "train", "run")
    field_name: str | None = None
    field_default: Any = None

    @property
    def shown_default(self) -> str:
        """The default a reader should see: the field's value, or what applies when unset."""
        if self.flag.unset:
            return self.flag.unset
        return format_value(self.default)


def setting(default: Any = dataclasses.MISSING, help: str = "", group: str = "", *,
            default_factory: Any = dataclasses.MISSING, **flag_options: Any) -> Any:
    """A dataclass field that is also a flag (see `Flag` for the options)."""
    metadata = {FLAG_KEY: Flag(help=help, group=group, **flag_options)}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


def internal(default: Any = dataclasses.MISSING, why: str = "", *, default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field that no flag sets; `why` says where its value comes from."""
    if not why:
        raise ValueError("internal() needs the reason no flag sets the field")
    return dataclasses.field(default=default, default_factory=default_factory, metadata={INTERNAL_KEY: why})


def field_default(item: dataclasses.Field) -> Any:
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return item.default


def default_of(cls: type, name: str) -> Any:
    """The declared default of field `name` of config class `cls`."""
    return field_default(next(f for f in dataclasses.fields(cls) if f.name == name))


def flag_of(cls: type, name: str) -> Flag:
    """The flag declaration of field `name` of config class `cls`."""
    return next(f for f in dataclasses.fields(cls) if f.name == name).metadata[FLAG_KEY]


def _base_type(hint: Any) -> type:
    """`Optional[int]` -> int, `list[str]` -> list."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    origin = typing.get_origin(hint)
    if origin is typing.Union or (origin is not None and type(None) in typing.get_args(hint)):
        return _base_type(args[0])
    return origin or hint


def flag_kind(hint: Any, flag: Flag) -> str:
    if flag.choices:
        return "enum"
    base = _base_type(hint)
    if base not in _KINDS:
        raise TypeError(f"no flag kind for the field type {hint!r}")
    return _KINDS[base]


def as_flag_default(value: Any, kind: str) -> Any:
    """A field's default as absl holds it: lists and dicts become lists of strings."""
    if kind != "list":
        return value
    if isinstance(value, dict):
        return [f"{k}={v}" for k, v in value.items()]
    return [str(v) for v in value]


def field_specs(cls: type, section: str) -> list[FlagSpec]:
    """The flags declared by the fields of config class `cls` (part `section` of the experiment)."""
    hints = typing.get_type_hints(cls)
    specs = []
    for item in dataclasses.fields(cls):
        flag = item.metadata.get(FLAG_KEY)
        if flag is None:
            continue
        kind = flag_kind(hints[item.name], flag)
        value = field_default(item)
        default = None if flag.unset else as_flag_default(value, kind)
        specs.append(FlagSpec(flag.name or item.name, kind, default, flag, section, item.name, value))
    return specs


def undeclared_fields(cls: type) -> list[str]:
    """Fields of `cls` that declare neither a flag nor why they have none (should be empty)."""
    return [f.name for f in dataclasses.fields(cls) if FLAG_KEY not in f.metadata and INTERNAL_KEY not in f.metadata]


def format_value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def parse_flag_value(spec: FlagSpec, value: Any) -> Any:
    """The field value of flag `spec` given as `value`; an invalid one is a one-line ConfigError."""
    if spec.flag.parse is None or value is None:
        return value
    try:
        return spec.flag.parse(value)
    except UserError:
        raise
    except (TypeError, ValueError) as error:
        raise ConfigError(f"--{spec.name}={format_value(value)!r} is invalid: {error}") from None


def shared(cls: type, name: str) -> Any:
    """A field of another dataclass that is the same setting as field `name` of `cls`: same default,
    same flag declaration (e.g. the transfer study's fine-tuning options are the trainer's)."""
    item = next(f for f in dataclasses.fields(cls) if f.name == name)
    if item.default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=item.default_factory, metadata=item.metadata)
    return dataclasses.field(default=item.default, metadata=item.metadata)


def _argparse_type(spec: FlagSpec) -> Callable[[str], Any]:
    import argparse

    base = {"integer": int, "float": float, "string": str, "enum": str}.get(spec.kind, str)

    def convert(text: str) -> Any:
        value = text.split(",") if spec.kind == "list" else base(text)
        try:
            return spec.flag.parse(value) if spec.flag.parse else value
        except (TypeError, ValueError) as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    convert.__name__ = spec.kind
    return convert


def add_arguments(parser: Any, cls: type) -> None:
    """argparse options (`--name`, declared help, type, parser) for the flag-declared fields of `cls`;
    their defaults are the fields' own, so `cls(**{name: args.name ...})` needs no copy of them."""
    import argparse

    for spec in field_specs(cls, section=cls.__name__):
        name, help_text = f"--{spec.name}", f"{spec.flag.help} (default: {spec.shown_default or 'unset'})"
        if spec.kind == "bool":
            action = "store_true" if spec.field_default is False else argparse.BooleanOptionalAction
            parser.add_argument(name, dest=spec.field_name, action=action, default=spec.field_default,
                                help=help_text)
            continue
        choices = spec.flag.choices if spec.flag.choices and spec.flag.parse is None else None
        parser.add_argument(name, dest=spec.field_name, type=_argparse_type(spec), default=spec.field_default,
                            choices=choices, help=help_text)

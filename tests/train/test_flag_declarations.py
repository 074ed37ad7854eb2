"""Each setting is declared once (its config field): flags, defaults, docs and the study derive from it."""

import dataclasses
from pathlib import Path

import pytest
from absl import flags

from assembled_cnn import cli_help
from assembled_cnn.config import ConfigError, DataConfig, ExperimentConfig, RunConfig, TrainConfig, parse_lr_multipliers
from assembled_cnn.flags import SECTIONS, config_from_flags, define_flags, flag_specs
from assembled_cnn.nets import ModelConfig
from assembled_cnn.settings import FLAG_KEY, INTERNAL_KEY, field_default, setting, undeclared_fields
from assembled_cnn.transfer import study

REPO = Path(__file__).resolve().parents[2]


def parse(argv):
    fv = flags.FlagValues()
    define_flags(fv)
    fv(["prog", *argv])
    return fv


def declared_fields():
    for section, cls in SECTIONS.items():
        for item in dataclasses.fields(cls):
            yield section, cls, item


def test_every_config_field_has_a_flag_or_says_why_not():
    for cls in SECTIONS.values():
        assert undeclared_fields(cls) == [], cls.__name__
    fv = parse([])
    for section, cls, item in declared_fields():
        flag = item.metadata.get(FLAG_KEY)
        if flag is None:
            assert item.metadata[INTERNAL_KEY], f"{section}.{item.name}"
            continue
        assert (flag.name or item.name) in fv, f"{section}.{item.name} declares a flag that is not defined"


def test_undeclared_fields_finds_a_field_without_a_declaration():
    @dataclasses.dataclass
    class Partial:
        declared: int = setting(1, "a flag", "Training")
        forgotten: int = 2

    assert undeclared_fields(Partial) == ["forgotten"]


@pytest.mark.parametrize("section,name", [(s, f.name) for s, _, f in declared_fields() if FLAG_KEY in f.metadata])
def test_a_flags_default_is_its_fields_default(section, name):
    cls = SECTIONS[section]
    item = next(f for f in dataclasses.fields(cls) if f.name == name)
    declaration = item.metadata[FLAG_KEY]
    absl_flag = parse([])[declaration.name or name]
    if declaration.unset:  # a model preset, a required or derived value: unset on the command line
        assert absl_flag.default is None
        return
    value = absl_flag.default
    parsed = declaration.parse(value) if declaration.parse and value is not None else value
    assert parsed == field_default(item) and type(parsed) is type(field_default(item)) or (
        isinstance(parsed, float) and float(field_default(item)) == parsed)


def test_default_flags_give_the_default_config(toy_data):
    config = config_from_flags(parse(["--dataset_name=toy", f"--dd={toy_data}", "--md=/tmp/unused_run"]))
    assert config.train == TrainConfig()
    assert config.data == DataConfig(dataset_name="toy", data_dir=str(toy_data))
    assert config.run == RunConfig(model_dir="/tmp/unused_run")
    expected_model = dataclasses.replace(ModelConfig(), num_classes=config.model.num_classes)
    assert config.model == expected_model


def test_cache_and_shuffle_buffer_are_flags(toy_data):
    base = ["--dataset_name=toy", f"--dd={toy_data}", "--md=/tmp/unused_run"]
    config = config_from_flags(parse([*base, "--cache", "--shuffle_buffer=64"]))
    assert (config.data.cache, config.data.shuffle_buffer) == (True, 64)
    assert ExperimentConfig.from_dict(config.to_dict()).data.shuffle_buffer == 64


def test_lr_multipliers_are_parsed_in_one_place(toy_data):
    fv = parse(["--dataset_name=toy", f"--dd={toy_data}", "--md=/tmp/unused_run", "--lr_multipliers=stem=0.1,head=10"])
    args = study.build_parser().parse_args(["--models", "m", "--datasets", "d", "--output_dir", "o",
                                            "--lr_multipliers", "stem=0.1,head=10"])
    expected = {"stem": 0.1, "head": 10.0}
    assert config_from_flags(fv).train.lr_multipliers == expected
    assert study.config_from_args(args).recipe.finetune.lr_multipliers == expected
    assert parse_lr_multipliers("stem=0.1, head=10") == expected
    with pytest.raises(ConfigError, match="--lr_multipliers='head=x' is invalid: item 'head=x'"):
        config_from_flags(parse(["--dataset_name=toy", f"--dd={toy_data}", "--md=/tmp/r", "--lr_multipliers=head=x"]))


def test_the_studys_finetune_options_are_the_trainers_settings():
    args = study.build_parser().parse_args(["--models", "m", "--datasets", "d", "--output_dir", "o"])
    options = study.config_from_args(args).recipe.finetune
    for item in dataclasses.fields(study.FinetuneOptions):
        owner = TrainConfig if item.name in {f.name for f in dataclasses.fields(TrainConfig)} else RunConfig
        assert getattr(options, item.name) == field_default(
            next(f for f in dataclasses.fields(owner) if f.name == item.name)), item.name
    help_text = study.build_parser().format_help()
    assert "L2-SP strength toward the pretrained weights" in help_text  # the trainer's help text


def test_help_and_flags_doc_come_from_the_declarations():
    doc = (REPO / cli_help.DOC_PATH).read_text()
    assert doc == cli_help.render_markdown(), "docs/flags.md is stale: python -m assembled_cnn.cli_help --write " \
                                              "docs/flags.md"
    for spec in flag_specs():
        assert f"`--{spec.name}`" in doc
    assert "| `--batch_size` (`-bs`) | `32` | `train.batch_size` | global batch size |" in doc
    assert "| `--num_filters` | the --model preset's, else 64 | `model.num_filters` |" in doc
    assert "`--bigquery_data_set`" in doc.split("## Accepted for the original's scripts and ignored")[1]


def test_help_lists_every_declared_flag_once_in_its_group():
    fv = parse([])
    text = cli_help.render_help(fv, "intro")
    for spec in flag_specs():
        assert text.count(f"\n  --{spec.name}\n") + text.count(f"\n  --{spec.name} (") == 1, spec.name
    model = text.split("\nModel:\n")[1].split("\n\n")[0]
    assert "--num_filters" in model and "[default: the --model preset's, else 64]" in model
    assert "--cache" in text.split("\nData:\n")[1].split("\n\n")[0]

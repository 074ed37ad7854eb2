"""The original absl flags (names, short aliases, defaults) and their translation to config.

The flags are generated from the config fields' declarations (`assembled_cnn.settings`): name,
short alias, default, help and parser are written once, on the field. The few flags that are
not a field (`--model`, `--eval_only`, ...) are declared here. This is the one place where flags
become an `ExperimentConfig`. Flags of the original that only drove its logging back-ends
(BigQuery, hyperdash, hooks, ...) are accepted and ignored with a warning.
"""

from __future__ import annotations

import functools

from absl import flags, logging

from assembled_cnn.config import ConfigError, DataConfig, ExperimentConfig, RunConfig, TrainConfig
from assembled_cnn.datasets.registry import get_dataset_info
from assembled_cnn.nets import ModelConfig, model_config
from assembled_cnn.recorded_flags import check_resumed_network, config_from_recording
from assembled_cnn.settings import Flag, FlagSpec, field_specs, parse_flag_value

IGNORED = ("hooks", "benchmark_logger_type", "benchmark_test_id", "benchmark_log_dir", "gcp_project",
           "bigquery_data_set", "bigquery_run_table", "bigquery_run_status_table", "bigquery_metric_table",
           "use_synthetic_data", "all_reduce_alg", "use_hyperdash", "with_drawing_bbox", "label_file",
           "use_ranking_loss", "export_decoder_type", "keep_ckpt_every_eval", "val_batch_size",
           "cb_distortion_range", "cr_distortion_range", "use_fast_color_distort")
SECTIONS = {"run": RunConfig, "data": DataConfig, "model": ModelConfig, "train": TrainConfig}

# Flags that say what to do now rather than being a setting of the experiment.
LEADING = [
    FlagSpec("model", "string", None, Flag("preset name (assemble_resnet50, ...); the model flags override it",
                                           "Model")),
]
TRAILING = [
    FlagSpec("eval_only", "bool", False, Flag("evaluate the latest checkpoint once", "Experiment")),
    FlagSpec("export_only", "bool", False, Flag("export the latest checkpoint only", "Experiment")),
    FlagSpec("arc_s", "float", 80.0, Flag("ArcFace scale s (with --logit_type=arcface)", "Heads and retrieval")),
    FlagSpec("inter_op_parallelism_threads", "integer", 0, Flag("TF threads (0: TF's choice)", "Distribution",
                                                                short_name="inter")),
    FlagSpec("intra_op_parallelism_threads", "integer", 0, Flag("TF threads (0: TF's choice)", "Distribution",
                                                                short_name="intra")),
    FlagSpec("data_format", "enum", None, Flag("accepted for the original's scripts; Keras runs NHWC here", "Model",
                                               short_name="df", choices=("channels_first", "channels_last"))),
]
# Defined by main_classification.py itself (tests define the shared flags without it).
DEBUG = FlagSpec("debug", "bool", False, Flag("show the traceback of a user error instead of its one-line message",
                                              "Experiment"))


@functools.cache
def flag_specs() -> tuple[FlagSpec, ...]:
    """Every flag of main_classification.py but --debug and the compatibility-only ones, in --help order."""
    fields = [spec for section, cls in SECTIONS.items() for spec in field_specs(cls, section)]
    return (*LEADING, *fields, *TRAILING)


def define_flag(spec: FlagSpec, fv) -> None:
    kwargs = dict(short_name=spec.flag.short_name, flag_values=fv)
    if spec.kind == "enum":
        flags.DEFINE_enum(spec.name, spec.default, list(spec.flag.choices), spec.flag.help, **kwargs)
        return
    define = {"bool": flags.DEFINE_bool, "integer": flags.DEFINE_integer, "float": flags.DEFINE_float,
              "string": flags.DEFINE_string, "list": flags.DEFINE_list}[spec.kind]
    define(spec.name, spec.default, spec.flag.help, **kwargs)


def define_flags(fv=flags.FLAGS) -> None:
    """Define every flag on `fv` (idempotent per FlagValues)."""
    if "data_dir" in fv:
        return
    for spec in flag_specs():
        define_flag(spec, fv)
    for name in IGNORED:
        if name not in fv:
            flags.DEFINE_string(name, None, "accepted for compatibility; ignored", flag_values=fv)


def _mode(fv) -> str:
    if fv.eval_only and fv.export_only:
        raise ConfigError("--eval_only and --export_only contradict each other; pass one")
    implied = "eval" if (fv.eval_only or fv.train_epochs == 0) else "export_only" if fv.export_only else None
    if implied and fv.mode and fv.mode != implied:
        raise ConfigError(f"--mode={fv.mode} contradicts {'--eval_only' if fv.eval_only else '--export_only'}")
    return implied or fv.mode or "train_and_eval"


def _check_unsupported(fv) -> None:
    if fv.data_format == "channels_first":
        logging.warning("--data_format=channels_first ignored: Keras on CPU and GPU runs NHWC here")
    for name in IGNORED:
        if fv[name].present:
            logging.warning("--%s is accepted for compatibility with the original and ignored", name)


def section_values(fv) -> dict[str, dict]:
    """Each config part's fields as the flags give them; unset flags (model presets, ...) are left out."""
    values: dict[str, dict] = {section: {} for section in SECTIONS}
    for spec in flag_specs():
        if spec.section is None:
            continue
        value = fv[spec.name].value
        if value is None and spec.flag.unset:
            continue
        values[spec.section][spec.field_name] = parse_flag_value(spec, value)
    return values


def _require_inputs(fv) -> None:
    if not fv.data_dir:
        raise ConfigError("--data_dir is required: the folder of TFRecords (train-*, validation-*) written by "
                          "python -m assembled_cnn.datasets.build")
    if not fv.dataset_name:
        raise ConfigError("--dataset_name is required (a registry name such as food101, or imagefolder "
                          "with a data_dir written by python -m assembled_cnn.datasets.build)")


def config_from_flags(fv=flags.FLAGS) -> ExperimentConfig:
    """Translate parsed flags into a validated ExperimentConfig (errors name the flag)."""
    _check_unsupported(fv)
    values = section_values(fv)
    if not fv.model_dir:
        raise ConfigError("--model_dir is required: the folder where this experiment's checkpoints, summaries and "
                          "hparams.json live (a new folder, or an earlier run's to resume or evaluate it)")
    mode = _mode(fv)
    if mode in ("eval", "continuous_eval", "export_only"):
        recorded = config_from_recording(fv, mode)
        if recorded is not None:
            return recorded.validate()
    elif fv.model_dir:
        check_resumed_network(fv)
    _require_inputs(fv)
    info = get_dataset_info(fv.dataset_name, fv.data_dir)
    model_values = values["model"]
    if model_values.get("logit_type") == "cosine":
        model_values["cosine_scale"] = fv.arc_s
    model = model_config(fv.model, **model_values, num_classes=info.num_classes)
    values["run"].update(mode=mode, op_determinism=fv.deterministic)
    return ExperimentConfig(model=model, data=DataConfig(**values["data"]), train=TrainConfig(**values["train"]),
                            run=RunConfig(**values["run"])).validate()

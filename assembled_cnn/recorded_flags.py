"""Flags on top of a recorded experiment: `--eval_only --model_dir=M` needs nothing retyped.

For the modes that read a finished or running experiment (eval, continuous_eval, export_only)
the config comes from `M/hparams.json`. Flags the user gives explicitly either override where
that is meaningful (where the data is, batch size, strategy, export folder, ...) or must agree
with what was recorded: `--num_filters=16` against a run trained with 8 is a one-line error
naming both values, instead of a 100-line checkpoint restore traceback.
"""

from __future__ import annotations

import dataclasses

from assembled_cnn.config import ConfigError, ExperimentConfig
from assembled_cnn.experiment import HPARAMS_FILE, read_config

# flag name -> (config section, field): where an explicit flag replaces the recorded value.
OVERRIDES = {
    "data_dir": ("data", "data_dir"), "val_regex": ("data", "val_regex"), "batch_size": ("train", "batch_size"),
    "export_dir": ("run", "export_dir"), "distribution_strategy": ("run", "distribution_strategy"),
    "num_gpus": ("run", "num_gpus"), "num_best_ckpt_to_keep": ("run", "num_best_ckpt_to_keep"),
    "test_size": ("data", "test_size"), "eval_flip": ("run", "eval_flip"),
    "eval_shift": ("run", "eval_shift"), "cache": ("data", "cache"),
    "shuffle_buffer": ("data", "shuffle_buffer"),
}
# Flags that only say what to do now; never compared with the recording.
RUN_ONLY = {"model_dir", "mode", "eval_only", "export_only", "clean", "inter_op_parallelism_threads",
            "intra_op_parallelism_threads", "log_every_n_steps", "zeroshot_eval", "recall_at_k", "eval_similarity"}


def _sections(config: ExperimentConfig) -> dict:
    return {"model": config.model, "data": config.data, "train": config.train, "run": config.run}


def _recorded_value(config: ExperimentConfig, name: str, sections=("model", "data", "train")):
    for section in sections:
        part = getattr(config, section)
        if name in {f.name for f in dataclasses.fields(part)}:
            return True, getattr(part, name)
    return False, None


def _same(flag_value, recorded) -> bool:
    if isinstance(recorded, list):
        return [str(v) for v in recorded] == [str(v) for v in (flag_value or [])]
    if isinstance(recorded, float) or isinstance(flag_value, float):
        return recorded is not None and flag_value is not None and float(recorded) == float(flag_value)
    return flag_value == recorded


def _check_model_preset(fv, config: ExperimentConfig, model_dir: str) -> None:
    if not fv["model"].present or not fv.model:
        return
    from assembled_cnn.nets.registry import PRESETS

    for name, value in PRESETS.get(fv.model, {}).items():
        if not (name in fv and fv[name].present) and getattr(config.model, name) != value:
            raise ConfigError(f"--model={fv.model} ({name}={value}) contradicts {name}={getattr(config.model, name)} "
                              f"recorded in {model_dir}/{HPARAMS_FILE}; drop --model to use the recorded network")


def check_agreement(fv, config: ExperimentConfig, model_dir: str, sections=("model", "data", "train")) -> None:
    """Explicit flags that describe the model (and data, training) must equal the recording."""
    _check_model_preset(fv, config, model_dir)
    for name in fv:
        if name in RUN_ONLY or name in OVERRIDES or name == "model" or not fv[name].present:
            continue
        known, recorded = _recorded_value(config, name, sections)
        if known and not _same(fv[name].value, recorded):
            raise ConfigError(f"--{name}={fv[name].value} contradicts {name}={recorded} recorded in "
                              f"{model_dir}/{HPARAMS_FILE}; drop the flag (the model_dir carries its settings)")


def config_from_recording(fv, mode: str) -> ExperimentConfig | None:
    """The recorded experiment with this invocation's overrides, or None when there is none."""
    config = read_config(fv.model_dir)
    if config is None:
        return None
    check_agreement(fv, config, fv.model_dir)
    sections = {k: dataclasses.asdict(v) for k, v in _sections(config).items()}
    for name, (section, field) in OVERRIDES.items():
        if name in fv and fv[name].present:
            sections[section][field] = fv[name].value
    sections["run"].update(model_dir=fv.model_dir, mode=mode, clean=False)
    if mode in ("eval", "continuous_eval") and not fv["export_dir"].present:
        sections["run"]["export_dir"] = None  # evaluating does not re-export to the recorded export folder
    for name in ("zeroshot_eval", "eval_similarity"):
        if name in fv and fv[name].present:
            sections["run"][name] = fv[name].value
    return ExperimentConfig.from_dict(sections)


def check_resumed_network(fv) -> None:
    """Training into a model_dir that has checkpoints resumes them: the network flags must match."""
    import tensorflow as tf

    if fv.clean or tf.train.latest_checkpoint(fv.model_dir) is None:
        return
    config = read_config(fv.model_dir)
    if config is not None:
        check_agreement(fv, config, fv.model_dir, sections=("model",))

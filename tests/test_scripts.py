"""The shell recipes parse, use only known flags, and pass their environment through."""

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((REPO / "scripts").glob("*.sh"))
EXPECTED = {"train_vanila_from_scratch.sh", "train_assemble_from_scratch.sh",
            "finetuning_vanila_on_food101.sh", "finetuning_assemble_on_food101.sh",
            "eval_assemble_tf1_checkpoint.sh", "eval_assemble_mCE_on_imagenet.sh",
            # the paper's MobileNet ladder (§6.7) and FGVC fine-tuning (§6.5, Table 13)
            "train_mobilenet_v1_m0.sh", "train_mobilenet_v1_m3.sh", "train_mobilenet_v1_m8.sh",
            "finetuning_assemble_on_cars.sh", "finetuning_assemble_on_flowers.sh",
            "finetuning_assemble_on_aircraft.sh", "finetuning_assemble_on_pets.sh"}

# The original's absl flags, from shared/reference/assembled-cnn.md §1.1–1.7.
ORIGINAL_FLAGS = {
    # §1.1 define_base
    "data_dir", "model_dir", "clean", "train_epochs", "epochs_between_evals", "stop_threshold",
    "batch_size", "num_gpus", "hooks", "export_dir",
    # §1.2 define_performance
    "inter_op_parallelism_threads", "intra_op_parallelism_threads", "use_synthetic_data",
    "max_train_steps", "dtype", "loss_scale", "all_reduce_alg",
    # §1.3 define_image / define_benchmark
    "data_format", "benchmark_logger_type", "benchmark_test_id", "benchmark_log_dir",
    "gcp_project", "bigquery_data_set", "bigquery_run_table", "bigquery_run_status_table",
    "bigquery_metric_table",
    # §1.4 and §1.5 define_resnet_flags / define_common_flags
    "resnet_size", "dataset_name", "val_batch_size", "pretrained_model_checkpoint_path",
    "num_epochs_per_decay", "learning_rate_decay_factor", "base_learning_rate", "end_learning_rate",
    "learning_rate_decay_type", "momentum", "bn_momentum", "embedding_size",
    "piecewise_lr_boundary_epochs", "piecewise_lr_decay_rates", "eval_similarity", "cls_loss_type",
    "logit_type", "arc_s", "arc_m", "pool_type", "no_downsample", "preprocessing_type",
    "autoaugment_type", "mixup_type", "use_resnet_d", "use_se_block", "use_sk_block",
    "anti_alias_filter_size", "anti_alias_type", "resnet_version", "bl_alpha", "bl_beta",
    "weight_decay", "use_dropblock", "dropblock_kp", "label_smoothing", "kd_temp",
    "lr_warmup_epochs", "zero_gamma", "dct_method", "use_ranking_loss", "with_drawing_bbox",
    "use_hyperdash", "num_best_ckpt_to_keep", "keep_ckpt_every_eval", "keep_checkpoint_max",
    "eval_only", "training_random_crop", "export_only", "export_decoder_type",
    "save_checkpoints_epochs", "ratio_fine_eval", "zeroshot_eval", "label_file", "train_regex",
    "val_regex", "recall_at_k",
    # §1.6 inception_preprocessing import-time flags
    "cb_distortion_range", "cr_distortion_range", "use_fast_color_distort",
    # §1.7 mce/eval_robustness.py
    "robustness_type", "gpu_index", "label_offset", "num_classes", "image_size",
}
# Ours: trainer modes, and the flags of our tools (convert, export, robustness).
OUR_FLAGS = {
    "mode", "distribution_strategy", "se_ratio",  # SE-MobileNet-V1 r=2 (M8)
    "tf1_checkpoint", "model", "skip_head",  # assembled_cnn.tools.convert_tf1_checkpoint
    "checkpoint", "label_map", "overwrite",  # assembled_cnn.export / predict
    "saved_model", "source", "synsets_file", "corruptions", "clean_error", "output_dir",
    "resize", "crop", "num_workers", "num_shards", "seed", "severities", "file_pattern",
    "eval_flip",  # flip test-time augmentation (issue 14)
}
KNOWN_FLAGS = ORIGINAL_FLAGS | OUR_FLAGS


def commands(script: Path) -> list[str]:
    """The script's lines without comments, backslash continuations joined."""
    code = [line for line in script.read_text().splitlines() if not line.lstrip().startswith("#")]
    return [c.strip() for c in "\n".join(code).replace("\\\n", " ").splitlines() if c.strip()]


def flags_of(command: str) -> set[str]:
    return set(re.findall(r"(?:^|\s)--([A-Za-z0-9_]+)", command))


def test_all_recipes_present():
    assert EXPECTED <= {s.name for s in SCRIPTS}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.name)
def test_script_parses_and_is_strict(script):
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    assert "original" in text  # cites the recipe it reproduces
    assert os.access(script, os.X_OK)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.name)
def test_script_uses_only_known_flags(script):
    used = set().union(*(flags_of(c) for c in commands(script)))
    assert used, f"{script.name} passes no flags"
    assert used <= KNOWN_FLAGS, f"{script.name}: unknown flags {sorted(used - KNOWN_FLAGS)}"


def recorded_calls(script: Path, tmp_path: Path) -> list[list[str]]:
    """The argv of every python call the script makes, after the shell expanded it (a fake python
    records them)."""
    fake = tmp_path / "fake_python"
    fake.write_text('#!/usr/bin/env bash\nfor a in "$@"; do printf "%s\\0" "$a"; done >> "$CALLS"; printf "\\n" >> "$CALLS"\n')
    fake.chmod(0o755)
    calls = tmp_path / "argv.txt"
    env = {"PATH": os.environ["PATH"], "PYTHON": str(fake), "CALLS": str(calls),
           "MODEL_DIR": str(tmp_path / "m"), "DATA_DIR": str(tmp_path / "d")}
    subprocess.run(["bash", str(script)], cwd=tmp_path, env=env, check=True, timeout=30)
    return [line.split("\0")[:-1] for line in calls.read_text().splitlines() if line]


def parse_with_the_real_parser(argv: list[str]) -> None:
    """main_classification.py's absl flags or the module's argparse parser; unknown flags raise."""
    import importlib

    from absl import flags

    from assembled_cnn.flags import define_flags

    if argv[0].endswith("main_classification.py"):
        fv = flags.FlagValues()
        define_flags(fv)
        flags.DEFINE_bool("debug", False, "", flag_values=fv)
        fv(["main_classification.py", *argv[1:]])  # UnrecognizedFlagError / IllegalFlagValueError
        return
    assert argv[0] == "-m", argv
    module = importlib.import_module(argv[1])
    if hasattr(module, "build_parser"):
        module.build_parser().parse_args(argv[2:])  # SystemExit(2) on an unknown flag or bad value
    else:
        module.parse_args(argv[2:])


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.name)
def test_every_command_parses_with_the_tools_own_flag_parser(script, tmp_path):
    calls = recorded_calls(script, tmp_path)
    assert calls, f"{script.name} runs no python"
    for argv in calls:
        try:
            parse_with_the_real_parser(argv)
        except SystemExit as exit_:
            pytest.fail(f"{script.name}: {' '.join(argv[:2])} rejects its flags (exit {exit_.code})")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda s: s.name)
def test_environment_reaches_the_commands(script, tmp_path):
    """Run with a fake python that records its arguments: defaults apply, env overrides them."""
    fake = tmp_path / "fake_python"
    fake.write_text('#!/usr/bin/env bash\nprintf "%s\\n" "$*" >> "$CALLS"\n')
    fake.chmod(0o755)
    calls = tmp_path / "calls.txt"
    env = {"PATH": os.environ["PATH"], "PYTHON": str(fake), "CALLS": str(calls),
           "MODEL_DIR": str(tmp_path / "my_model"), "DATA_DIR": str(tmp_path / "my_data")}
    subprocess.run(["bash", str(script), "--extra_flag_from_user=1"], cwd=tmp_path, env=env,
                   check=True, timeout=30)
    recorded = calls.read_text()
    assert f"--model_dir={tmp_path / 'my_model'}" in recorded
    assert f"--data_dir={tmp_path / 'my_data'}" in recorded
    assert recorded.strip().splitlines()[-1].endswith("--extra_flag_from_user=1")

"""`main_classification.py --help`: the flags people use, grouped, with their defaults.

absl's own `--help` lists only flags defined in the main module and `--helpfull` lists 300+
(absl-testing, TPU and the ~25 flags kept only for the original's scripts). The groups below
name flags; their help text and defaults come from the flag definitions, so nothing is said twice.
"""

from __future__ import annotations

import textwrap

GROUPS: dict[str, tuple[str, ...]] = {
    "Experiment": ("model_dir", "mode", "eval_only", "export_only", "export_dir", "clean", "debug"),
    "Data": ("dataset_name", "data_dir", "preprocessing_type", "train_regex", "val_regex", "train_size",
             "test_size", "deterministic", "seed"),
    "Model": ("model", "resnet_size", "resnet_version", "num_filters", "use_resnet_d", "use_se_block",
              "use_sk_block", "anti_alias_type", "anti_alias_filter_size", "use_dropblock", "zero_gamma",
              "bn_momentum", "sync_bn", "pool_type", "embedding_size", "width_multiplier"),
    "Training": ("batch_size", "train_epochs", "max_train_steps", "base_learning_rate", "learning_rate_decay_type",
                 "lr_warmup_epochs", "momentum", "weight_decay", "dtype", "ema_decay", "grad_clip_norm",
                 "dropblock_kp"),
    "Regularisation and distillation": ("mixup_type", "mixup_alpha", "label_smoothing", "autoaugment_type",
                                        "randaugment", "random_erasing_prob", "kd_temp", "online_teacher"),
    "Fine-tuning": ("pretrained_model_checkpoint_path", "warm_start_bn_stats", "new_layers", "lr_multipliers",
                    "l2sp_alpha", "l2sp_beta"),
    "Heads and retrieval": ("cls_loss_type", "logit_type", "arc_s", "arc_m", "zeroshot_eval", "recall_at_k",
                            "eval_similarity"),
    "Evaluation and checkpoints": ("epochs_between_evals", "save_checkpoints_steps", "keep_checkpoint_max",
                                   "num_best_ckpt_to_keep", "log_every_n_steps", "stop_threshold"),
    "Distribution": ("distribution_strategy", "num_gpus"),
}


def _describe(flag) -> str:
    name = f"--{flag.name}" + (f" (-{flag.short_name})" if flag.short_name else "")
    default = "" if flag.default in (None, "", []) else f" [default: {flag.default}]"
    body = textwrap.fill(f"{flag.help}{default}", width=96, initial_indent="      ", subsequent_indent="      ")
    return f"  {name}\n{body}"


def render_help(fv, intro: str) -> str:
    """The grouped help text of the flags in `GROUPS` that `fv` defines."""
    parts = [intro.strip(), ""]
    for title, names in GROUPS.items():
        present = [fv[name] for name in names if name in fv]
        if present:
            parts += [f"{title}:", *(_describe(f) for f in present), ""]
    parts.append("Every flag, including those kept only for the original's scripts: --helpfull")
    return "\n".join(parts) + "\n"

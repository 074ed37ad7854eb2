"""Typed experiment configuration: model, data, optimisation and run settings.

`assembled_cnn.flags` is the one place where the original absl flags become this config, and
`ExperimentConfig.to_json` is what lands in `model_dir/hparams.json`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Optional

from assembled_cnn.errors import UserError
from assembled_cnn.nets import ModelConfig

LR_DECAY_TYPES = ("fixed", "exponential", "polynomial", "piecewise", "cosine")
MODES = ("train", "eval", "train_and_eval", "continuous_eval", "export_only")
STRATEGIES = ("off", "one_device", "mirrored", "multi_worker_mirrored")
DTYPES = ("fp32", "fp16", "bf16")
CLS_LOSS_TYPES = ("softmax", "sigmoid", "focal")
SIMILARITIES = ("cosine", "euclidean")


class ConfigError(UserError):
    """A flag or setting is invalid or contradicts another; the message says which and why."""


@dataclass
class DataConfig:
    dataset_name: str = "imagenet"
    data_dir: str = "/tmp"
    preprocessing_type: str = "imagenet"
    train_regex: str = "train-*"
    val_regex: str = "validation-*"
    autoaugment_type: Optional[str] = None
    randaugment: Optional[str] = None
    mixup_type: int = 0           # 0 off, 1 doubled batch (original), 2 in-batch, 3 CutMix
    mixup_alpha: float = 0.2
    label_smoothing: float = 0.0
    kd_temp: float = 0.0
    random_erasing_prob: float = 0.0
    test_size: Optional[int] = None  # FixRes: evaluate at another size than the train size
    train_size: Optional[int] = None
    training_random_crop: bool = True
    dct_method: str = "INTEGER_ACCURATE"
    cache: bool = False
    shuffle_buffer: Optional[int] = None
    deterministic: bool = False
    seed: int = 0


@dataclass
class TrainConfig:
    batch_size: int = 32
    train_epochs: float = 90.0
    max_train_steps: Optional[int] = None
    base_learning_rate: float = 0.01
    learning_rate_decay_type: str = "exponential"
    lr_warmup_epochs: float = 0.0
    num_epochs_per_decay: float = 2.0
    learning_rate_decay_factor: float = 0.94
    end_learning_rate: float = 1e-4
    piecewise_lr_boundary_epochs: list = field(default_factory=lambda: [30, 60, 80, 90])
    piecewise_lr_decay_rates: list = field(default_factory=lambda: [1, 0.1, 0.01, 0.001, 1e-4])
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 4e-5
    l2sp_alpha: float = 0.0          # decay toward the pretrained weights (L2-SP)
    l2sp_beta: float = 0.0           # plain L2 on the new (re-initialised) layers under L2-SP
    lr_multipliers: dict = field(default_factory=dict)  # layer group -> LR multiplier
    new_layers: int = 0              # re-initialise the last N layer groups when fine-tuning
    dropblock_kp: list = field(default_factory=lambda: [1.0, 0.9])
    dtype: str = "fp32"
    loss_scale: Optional[float] = None
    ema_decay: float = 0.0
    grad_clip_norm: Optional[float] = None
    online_teacher: Optional[str] = None
    cls_loss_type: str = "softmax"   # softmax, sigmoid (BCE / positives, as the original) or focal
    focal_gamma: float = 2.0
    focal_alpha: float = 0.25
    arc_margin: float = 0.15         # additive angular margin of cosine (ArcFace) heads: --arc_m


@dataclass
class RunConfig:
    model_dir: str = ""  # required: ExperimentConfig.validate() refuses an empty one
    mode: str = "train_and_eval"
    distribution_strategy: str = "off"
    num_gpus: Optional[int] = None
    epochs_between_evals: float = 1.0
    ratio_fine_eval: float = 1.0
    save_checkpoints_epochs: float = 1.0
    save_checkpoints_steps: Optional[int] = None
    keep_checkpoint_max: int = 20
    num_best_ckpt_to_keep: int = 3
    pretrained_model_checkpoint_path: Optional[str] = None
    warm_start_bn_stats: bool = False
    warm_start_head: bool = False  # also the classifier (same classes): continue under a new schedule
    export_dir: Optional[str] = None
    log_every_n_steps: int = 50
    stop_threshold: Optional[float] = None
    clean: bool = False
    op_determinism: bool = False
    zeroshot_eval: bool = False      # evaluate Recall@K on embeddings instead of accuracy
    recall_at_k: list = field(default_factory=lambda: [1, 5])
    eval_similarity: str = "cosine"


@dataclass
class ExperimentConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def validate(self) -> "ExperimentConfig":
        t, r, d = self.train, self.run, self.data
        _require(t.learning_rate_decay_type in LR_DECAY_TYPES, "learning_rate_decay_type",
                 t.learning_rate_decay_type, LR_DECAY_TYPES)
        if not r.model_dir:
            raise ConfigError("--model_dir is required: the folder of this experiment (checkpoints, hparams.json)")
        _require(r.mode in MODES, "mode", r.mode, MODES)
        _require(r.distribution_strategy in STRATEGIES, "distribution_strategy", r.distribution_strategy, STRATEGIES)
        _require(t.dtype in DTYPES, "dtype", t.dtype, DTYPES)
        _require(t.batch_size > 0, "batch_size", t.batch_size, "a positive global batch size")
        _require(d.mixup_type in (0, 1, 2, 3), "mixup_type", d.mixup_type, "0, 1, 2 or 3 (CutMix)")
        _require(0.0 <= d.label_smoothing < 1.0, "label_smoothing", d.label_smoothing, "[0, 1)")
        _require(len(t.dropblock_kp) == 2, "dropblock_kp", t.dropblock_kp, "two values: start,end")
        _require(len(t.piecewise_lr_decay_rates) == len(t.piecewise_lr_boundary_epochs) + 1,
                 "piecewise_lr_decay_rates", t.piecewise_lr_decay_rates,
                 "one more value than piecewise_lr_boundary_epochs")
        _require(0.0 <= t.ema_decay < 1.0, "ema_decay", t.ema_decay, "[0, 1)")
        self._validate_heads()
        if self.model.use_dropblock is False and list(t.dropblock_kp) != [1.0, 0.9]:
            pass  # the original ignores dropblock_kp without use_dropblock; so do we
        if d.kd_temp > 0 and t.online_teacher is None and d.mixup_type == 3:
            raise ConfigError("--kd_temp with --mixup_type=3 (CutMix) is not supported: teacher logits of "
                              "stored records describe whole images; use mixup_type 1 or 2")
        return self

    def _validate_heads(self) -> None:
        t, r = self.train, self.run
        _require(t.cls_loss_type in CLS_LOSS_TYPES, "cls_loss_type", t.cls_loss_type, CLS_LOSS_TYPES)
        _require(r.eval_similarity in SIMILARITIES, "eval_similarity", r.eval_similarity, SIMILARITIES)
        _require(len(r.recall_at_k) > 0 and all(int(k) >= 1 for k in r.recall_at_k), "recall_at_k",
                 r.recall_at_k, "positive integers, e.g. 1,5")
        _require(0.0 <= t.arc_margin < 3.14159, "arc_m", t.arc_margin, "an angle in [0, pi) radians")
        if self.model.logit_type == "cosine" and t.cls_loss_type != "softmax":
            raise ConfigError(f"--logit_type=arcface is a softmax loss; --cls_loss_type={t.cls_loss_type} "
                              "does not combine with it (use --cls_loss_type=softmax)")
        if self.model.logit_type == "cosine" and self.data.mixup_type != 0:
            raise ConfigError("--logit_type=arcface with --mixup_type: the angular margin needs one label per "
                              "image and mixup/CutMix mix two; use --mixup_type=0")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ExperimentConfig":
        return cls(model=ModelConfig.from_dict(values.get("model", {})),
                   data=DataConfig(**values.get("data", {})),
                   train=TrainConfig(**values.get("train", {})),
                   run=RunConfig(**values.get("run", {}))).validate()


def _require(ok: bool, flag: str, value: Any, allowed: Any) -> None:
    if not ok:
        raise ConfigError(f"--{flag}={value!r} is invalid: expected {allowed}")

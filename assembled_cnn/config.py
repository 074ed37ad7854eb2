"""Typed experiment configuration: model, data, optimisation and run settings.

Each field is declared once, with its flag (`assembled_cnn.settings.setting`): its default here is
the flag's default, and `assembled_cnn.flags` generates the absl flags and the flags -> config
translation from these declarations. `ExperimentConfig.to_json` is what lands in
`model_dir/hparams.json`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Optional

from assembled_cnn.nets import ModelConfig
from assembled_cnn.settings import ConfigError, internal, setting

LR_DECAY_TYPES = ("fixed", "exponential", "polynomial", "piecewise", "cosine")
MODES = ("train", "eval", "train_and_eval", "continuous_eval", "export_only")
STRATEGIES = ("off", "one_device", "mirrored", "multi_worker_mirrored")
DTYPES = ("fp32", "fp16", "bf16")
CLS_LOSS_TYPES = ("softmax", "sigmoid", "focal")
SIMILARITIES = ("cosine", "euclidean")


def float_list(items) -> list[float]:
    return [float(v) for v in items]


def int_list(items) -> list[int]:
    try:  # the original passed these on as strings (its QUIRK); here they are integers
        return [int(v) for v in items]
    except ValueError:
        raise ValueError("expected integers, e.g. 1,5") from None


def parse_lr_multipliers(items) -> dict[str, float]:
    """`stem=0.1,head=10` (a string or its comma-separated items) -> {"stem": 0.1, "head": 10.0}."""
    if isinstance(items, str):
        items = items.split(",")
    out = {}
    for item in (i.strip() for i in items if i.strip()):
        group, sep, value = item.partition("=")
        if not sep or not group.strip():
            raise ValueError(f"item {item!r}: expected group=value, e.g. head=10")
        try:
            out[group.strip()] = float(value)
        except ValueError:
            raise ValueError(f"item {item!r}: {value.strip()!r} is not a number") from None
    return out


REQUIRED = "required (evaluating, exporting: read from the model_dir's hparams.json)"


@dataclass
class DataConfig:
    dataset_name: str = setting("imagenet", "registry name, or any data_dir with dataset_info.json", "Data",
                                unset=REQUIRED)
    data_dir: str = setting("/tmp", "TFRecord directory (python -m assembled_cnn.datasets.build writes one)", "Data",
                            short_name="dd", unset=REQUIRED)
    preprocessing_type: str = setting("imagenet", "imagenet, imagenet_224_256, cifar, mnist, ...", "Data")
    train_regex: str = setting("train-*", "training file glob", "Data")
    val_regex: str = setting("validation-*", "validation file glob", "Data")
    autoaugment_type: Optional[str] = setting(None, "imagenet, good (cifar10), svhn, v0",
                                              "Regularisation and distillation")
    randaugment: Optional[str] = setting(None, "timm-style spec, e.g. rand-m9-mstd0.5-inc1",
                                         "Regularisation and distillation")
    mixup_type: int = setting(0, "0 off, 1 doubled batch (the original), 2 in-batch, 3 CutMix",
                              "Regularisation and distillation")
    mixup_alpha: float = setting(0.2, "Beta(alpha, alpha)", "Regularisation and distillation")
    label_smoothing: float = setting(0.0, "label smoothing epsilon", "Regularisation and distillation",
                                     short_name="lblsm")
    kd_temp: float = setting(0.0, "> 0: distil from image/logit with this temperature",
                             "Regularisation and distillation")
    kd_weight: float = setting(1.0, "weight of the distillation term T²·CE (1: the original, no alpha)",
                               "Regularisation and distillation")
    random_erasing_prob: float = setting(0.0, "random erasing probability", "Regularisation and distillation")
    progressive_sizes: list = setting(help="progressive resizing: train at these sizes (in equal shares of the "
                                      "first --progressive_until of the steps) before the training size, e.g. 40,48",
                                      group="Data", default_factory=list, parse=int_list)
    progressive_until: float = setting(0.5, "fraction of the training steps spent at --progressive_sizes", "Data")
    test_size: Optional[int] = setting(None, "FixRes: evaluation image size", "Data")
    train_size: Optional[int] = setting(None, "training image size (overrides the preset)", "Data")
    training_random_crop: bool = setting(True, "False: min_object_covered 1.0", "Data")
    dct_method: str = setting("INTEGER_ACCURATE", "JPEG DCT method", "Data", short_name="dctm")
    cache: bool = setting(False, "keep the serialized training and validation records in memory after the "
                          "first pass (small datasets)", "Data")
    shuffle_buffer: Optional[int] = setting(None, "records in the training shuffle buffer", "Data",
                                            unset="the dataset's (dataset_info.json)")
    deterministic: bool = setting(False, "seeded, ordered input and op determinism (exact resume)", "Data")
    seed: int = setting(0, "seed of the deterministic mode", "Data")


@dataclass
class TrainConfig:
    batch_size: int = setting(32, "global batch size", "Training", short_name="bs")
    train_epochs: float = setting(90.0, "total epochs", "Training", short_name="te")
    max_train_steps: Optional[int] = setting(None, "stop after this many steps", "Training", short_name="mts")
    base_learning_rate: float = setting(0.01, "peak LR (not scaled by batch)", "Training", short_name="blr")
    learning_rate_decay_type: str = setting("exponential", "fixed, exponential, polynomial, piecewise, cosine",
                                            "Training", short_name="lrdt")
    lr_warmup_epochs: float = setting(0.0, "linear warm-up epochs", "Training")
    num_epochs_per_decay: float = setting(2.0, "decay period", "Training", short_name="nepd")
    learning_rate_decay_factor: float = setting(0.94, "exponential factor", "Training", short_name="lrdf")
    end_learning_rate: float = setting(1e-4, "polynomial end LR", "Training", short_name="elr")
    piecewise_lr_boundary_epochs: list = setting(help="piecewise: epochs of the boundaries", group="Training",
                                                 default_factory=lambda: [30, 60, 80, 90], short_name="pwlrb",
                                                 parse=float_list)
    piecewise_lr_decay_rates: list = setting(help="piecewise: LR multipliers (one more than boundaries)",
                                             group="Training", default_factory=lambda: [1, 0.1, 0.01, 0.001, 1e-4],
                                             short_name="pwlrd", parse=float_list)
    momentum: float = setting(0.9, "SGD momentum", "Training", short_name="mmt")
    nesterov: bool = setting(False, "Nesterov momentum", "Training")
    weight_decay: float = setting(4e-5, "L2 on kernels (BN and biases excluded)", "Training", short_name="wd")
    l2sp_alpha: float = setting(0.0, "L2-SP strength toward the pretrained weights", "Fine-tuning")
    l2sp_beta: float = setting(0.0, "L2 on re-initialised layers under L2-SP", "Fine-tuning")
    lr_multipliers: dict = setting(help="LR multiplier per layer group, e.g. stem=0.1,stage1=0.1,head=10",
                                   group="Fine-tuning", default_factory=dict, parse=parse_lr_multipliers)
    new_layers: int = setting(0, "re-initialise the last N layer groups (head=1)", "Fine-tuning")
    dropblock_kp: list = setting(help="DropBlock keep-prob start,end", group="Training",
                                 default_factory=lambda: [1.0, 0.9], short_name="drblkp", parse=float_list)
    dtype: str = setting("fp32", "compute dtype", "Training", short_name="dt", choices=DTYPES)
    loss_scale: Optional[float] = setting(None, "initial fp16 loss scale (dynamic)", "Training", short_name="ls",
                                          unset="2^15")
    ema_decay: float = setting(0.0, "EMA of weights (0: off); evaluation uses the EMA copy", "Training")
    grad_clip_norm: Optional[float] = setting(None, "clip gradients by global norm", "Training", unset="no clipping")
    online_teacher: Optional[str] = setting(None, "teacher run inside the train step (model_dir or SavedModel)",
                                            "Regularisation and distillation")
    cls_loss_type: str = setting("softmax", "softmax, sigmoid (BCE / positives, as the original) or focal",
                                 "Heads and retrieval")
    focal_gamma: float = setting(2.0, "focal loss gamma", "Heads and retrieval")
    focal_alpha: float = setting(0.25, "focal loss alpha (weight of the positives)", "Heads and retrieval")
    arc_margin: float = setting(0.15, "ArcFace additive angular margin m (radians)", "Heads and retrieval",
                                name="arc_m")


@dataclass
class RunConfig:
    model_dir: str = setting("", "the experiment's folder: checkpoints, summaries, hparams.json", "Experiment",
                             short_name="md", unset="required")
    mode: str = setting("train_and_eval", "what to run", "Experiment", choices=MODES,
                        unset="train_and_eval; eval with --eval_only or --train_epochs=0, export_only with "
                        "--export_only")
    distribution_strategy: str = setting("off", "tf.distribute strategy (multi_worker_mirrored reads TF_CONFIG)",
                                         "Distribution", choices=STRATEGIES)
    num_gpus: Optional[int] = setting(None, "GPUs for the mirrored strategy (-1: all)", "Distribution",
                                      short_name="ng", unset="all")
    epochs_between_evals: float = setting(1.0, "train/eval cycle length", "Evaluation and checkpoints",
                                          short_name="ebe")
    ratio_fine_eval: float = setting(1.0, "evaluate every epoch after this fraction of training",
                                     "Evaluation and checkpoints")
    save_checkpoints_epochs: float = setting(1.0, "checkpoint period in epochs", "Evaluation and checkpoints")
    save_checkpoints_steps: Optional[int] = setting(None, "checkpoint period in steps (overrides epochs)",
                                                    "Evaluation and checkpoints")
    keep_checkpoint_max: int = setting(20, "latest checkpoints kept (0: all)", "Evaluation and checkpoints")
    num_best_ckpt_to_keep: int = setting(3, "best checkpoints copied to model_dir/best",
                                         "Evaluation and checkpoints", short_name="nbck")
    pretrained_model_checkpoint_path: Optional[str] = setting(
        None, "warm start: a model_dir of ours, an original TF1 checkpoint, or a PyTorch .pth/.safetensors or "
        "keras.applications .h5 weights file", "Fine-tuning", short_name="pmcp")
    warm_start_bn_stats: bool = setting(False, "also restore BN moving statistics (the original did not)",
                                        "Fine-tuning")
    warm_start_head: bool = setting(False, "with -pmcp MODEL_DIR: also take its classifier (same classes), to "
                                    "continue a run under a new schedule or resolution (FixRes stage 2)",
                                    "Fine-tuning")
    export_dir: Optional[str] = setting(None, "export a SavedModel here after the run", "Experiment",
                                        short_name="ed")
    log_every_n_steps: int = setting(50, "console/TensorBoard period", "Evaluation and checkpoints")
    eval_flip: bool = setting(False, "flip test-time augmentation: also classify the mirrored image and "
                              "average the two softmaxes", "Evaluation and checkpoints")
    eval_shift: int = setting(0, "shift test-time augmentation: also classify the image moved this many pixels "
                              "left, right, up and down (border filled with black, as the cifar preset's training crop pads) "
                              "and average the softmaxes (with --eval_flip: 6 views)", "Evaluation and checkpoints")
    stop_threshold: Optional[float] = setting(None, "stop when the eval metric reaches it",
                                              "Evaluation and checkpoints", short_name="st")
    clean: bool = setting(False, "remove an earlier run's files from model_dir first (only a model_dir this "
                          "project wrote; other files are kept)", "Experiment")
    op_determinism: bool = internal(False, "set by --deterministic")
    zeroshot_eval: bool = setting(False, "evaluate Recall@K on embeddings (image retrieval)", "Heads and retrieval")
    recall_at_k: list = setting(help="K values of Recall@K", group="Heads and retrieval",
                                default_factory=lambda: [1, 5], parse=int_list)
    eval_similarity: str = setting("cosine", "cosine or euclidean, for Recall@K", "Heads and retrieval")


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
        _require(d.kd_weight >= 0.0, "kd_weight", d.kd_weight, "a non-negative weight of the distillation term")
        _require(len(t.dropblock_kp) == 2, "dropblock_kp", t.dropblock_kp, "two values: start,end")
        _require(len(t.piecewise_lr_decay_rates) == len(t.piecewise_lr_boundary_epochs) + 1,
                 "piecewise_lr_decay_rates", t.piecewise_lr_decay_rates,
                 "one more value than piecewise_lr_boundary_epochs")
        _require(0.0 <= t.ema_decay < 1.0, "ema_decay", t.ema_decay, "[0, 1)")
        _require(r.eval_shift >= 0, "eval_shift", r.eval_shift, "a number of pixels >= 0 (0: no shifted views)")
        self._validate_heads()
        self._validate_progressive()
        if self.model.use_dropblock is False and list(t.dropblock_kp) != [1.0, 0.9]:
            pass  # the original ignores dropblock_kp without use_dropblock; so do we
        if d.kd_temp > 0 and t.online_teacher is None and d.mixup_type == 3:
            raise ConfigError("--kd_temp with --mixup_type=3 (CutMix) is not supported: teacher logits of "
                              "stored records describe whole images; use mixup_type 1 or 2")
        return self

    def _validate_progressive(self) -> None:
        d = self.data
        if not d.progressive_sizes:
            return
        _require(all(int(v) >= 8 for v in d.progressive_sizes), "progressive_sizes", d.progressive_sizes,
                 "image sizes of at least 8 px, e.g. 40,48")
        _require(0.0 < d.progressive_until < 1.0, "progressive_until", d.progressive_until, "(0, 1)")
        if self.model.resnet_version == 2:
            raise ConfigError("--progressive_sizes needs a network that takes any input size; --resnet_version=2 "
                              "builds for one size, use --resnet_version=1 or drop --progressive_sizes")

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

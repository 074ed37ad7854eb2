"""The original absl flags (names, short aliases, defaults) and their translation to config.

This is the one place where flags become an `ExperimentConfig`. Flags of the original that
only drove its logging back-ends (BigQuery, hyperdash, hooks, ...) are accepted and ignored
with a warning; flags of features the original never implemented are clear errors.
"""

from __future__ import annotations

from absl import flags, logging

from assembled_cnn.config import ConfigError, DataConfig, ExperimentConfig, RunConfig, TrainConfig
from assembled_cnn.datasets.registry import get_dataset_info
from assembled_cnn.nets import model_config
from assembled_cnn.recorded_flags import check_resumed_network, config_from_recording

IGNORED = ("hooks", "benchmark_logger_type", "benchmark_test_id", "benchmark_log_dir", "gcp_project",
           "bigquery_data_set", "bigquery_run_table", "bigquery_run_status_table", "bigquery_metric_table",
           "use_synthetic_data", "all_reduce_alg", "use_hyperdash", "with_drawing_bbox", "label_file",
           "use_ranking_loss", "export_decoder_type", "keep_ckpt_every_eval", "val_batch_size",
           "cb_distortion_range", "cr_distortion_range", "use_fast_color_distort")
LOGIT_TYPES = {"arcface": "cosine", "arc_margin": "cosine", "cosine": "cosine", "dense": "dense"}


def _define_base(fv) -> None:
    flags.DEFINE_string("data_dir", None, "TFRecord directory (python -m assembled_cnn.datasets.build writes one)",
                        short_name="dd", flag_values=fv)
    flags.DEFINE_string("model_dir", None, "the experiment's folder: checkpoints, summaries, hparams.json (required)",
                        short_name="md", flag_values=fv)
    flags.DEFINE_bool("clean", False, "remove an earlier run's files from model_dir first (only a model_dir this "
                      "project wrote; other files are kept)", flag_values=fv)
    flags.DEFINE_float("train_epochs", 90, "total epochs", short_name="te", flag_values=fv)
    flags.DEFINE_float("epochs_between_evals", 1, "train/eval cycle length", short_name="ebe", flag_values=fv)
    flags.DEFINE_float("stop_threshold", None, "stop when the eval metric reaches it", short_name="st", flag_values=fv)
    flags.DEFINE_integer("batch_size", 32, "global batch size", short_name="bs", flag_values=fv)
    flags.DEFINE_integer("num_gpus", None, "GPUs for the mirrored strategy (-1: all)", short_name="ng", flag_values=fv)
    flags.DEFINE_string("export_dir", None, "export a SavedModel here after the run", short_name="ed", flag_values=fv)
    flags.DEFINE_integer("max_train_steps", None, "stop after this many steps", short_name="mts", flag_values=fv)
    flags.DEFINE_enum("dtype", "fp32", ["fp32", "fp16", "bf16"], "compute dtype", short_name="dt", flag_values=fv)
    flags.DEFINE_float("loss_scale", None, "initial fp16 loss scale (dynamic)", short_name="ls", flag_values=fv)
    flags.DEFINE_integer("inter_op_parallelism_threads", 0, "TF threads", short_name="inter", flag_values=fv)
    flags.DEFINE_integer("intra_op_parallelism_threads", 0, "TF threads", short_name="intra", flag_values=fv)
    flags.DEFINE_enum("data_format", None, ["channels_first", "channels_last"], "NHWC only", short_name="df",
                      flag_values=fv)


def _define_model(fv) -> None:
    flags.DEFINE_string("model", None, "preset name (assemble_resnet50, ...); flags below override it", flag_values=fv)
    flags.DEFINE_enum("resnet_size", None, ["18", "34", "50", "101", "152", "200"], "depth", short_name="rs",
                      flag_values=fv)
    flags.DEFINE_enum("resnet_version", None, ["1", "2"], "1: ResNet v1.5, 2: Big-Little", short_name="rv",
                      flag_values=fv)
    flags.DEFINE_integer("num_filters", None, "stem width (64)", flag_values=fv)
    flags.DEFINE_bool("use_resnet_d", None, "ResNet-D stem and shortcuts", flag_values=fv)
    flags.DEFINE_bool("use_se_block", None, "SE blocks (r=16)", flag_values=fv)
    flags.DEFINE_bool("use_sk_block", None, "Selective Kernel units", flag_values=fv)
    flags.DEFINE_string("anti_alias_type", None, "sconv and/or proj", flag_values=fv)
    flags.DEFINE_integer("anti_alias_filter_size", None, "binomial blur size 1..7", flag_values=fv)
    flags.DEFINE_integer("bl_alpha", None, "Big-Little width divisor", flag_values=fv)
    flags.DEFINE_integer("bl_beta", None, "Big-Little depth divisor", flag_values=fv)
    flags.DEFINE_bool("zero_gamma", None, "zero-init the last BN of each branch", flag_values=fv)
    flags.DEFINE_bool("use_dropblock", None, "DropBlock in stages 3-4", flag_values=fv)
    flags.DEFINE_float("bn_momentum", None, "BN moving-average decay (0.997)", flag_values=fv)
    flags.DEFINE_bool("sync_bn", None, "BN statistics over all replicas and workers", flag_values=fv)
    flags.DEFINE_string("pool_type", None, "gap, gem or flatten", flag_values=fv)
    flags.DEFINE_integer("embedding_size", None, "embedding before the classifier", flag_values=fv)
    flags.DEFINE_bool("no_downsample", None, "last stage stride 1", flag_values=fv)
    flags.DEFINE_float("width_multiplier", None, "MobileNet width", flag_values=fv)
    flags.DEFINE_float("dropout_rate", None, "dropout before the classifier", flag_values=fv)
    flags.DEFINE_enum("conv_padding", None, ["fixed", "same"], "fixed: the original's explicit padding; same: TF "
                      "SAME (keras.applications and EfficientNet-Lite weights)", flag_values=fv)
    flags.DEFINE_enum("stem_pool_padding", None, ["same", "symmetric"], "stem max-pool padding; symmetric as torch "
                      "(exact import of torchvision/timm ResNets)", flag_values=fv)
    flags.DEFINE_bool("resnet_d_stride1_pool", None, "ResNet-D avg-pools the stride-1 shortcut too (the original; "
                      "timm does not)", flag_values=fv)
    flags.DEFINE_float("depth_multiplier", None, "EfficientNet-Lite: repeats per stage scaled by this", flag_values=fv)
    flags.DEFINE_integer("se_ratio", None, "SE bottleneck reduction r (16; the paper's SE-MobileNet-V1 M7/M8: 2)",
                         flag_values=fv)


def _define_training(fv) -> None:
    flags.DEFINE_string("dataset_name", None, "registry name, or any data_dir with dataset_info.json", flag_values=fv)
    flags.DEFINE_string("pretrained_model_checkpoint_path", None, "warm start: a model_dir of ours, an original TF1 "
                        "checkpoint, or a PyTorch .pth/.safetensors or keras.applications .h5 weights file",
                        short_name="pmcp", flag_values=fv)
    flags.DEFINE_bool("warm_start_bn_stats", False, "also restore BN moving statistics (the original did not)",
                      flag_values=fv)
    flags.DEFINE_bool("warm_start_head", False, "with -pmcp MODEL_DIR: also take its classifier (same classes), "
                      "to continue a run under a new schedule or resolution (FixRes stage 2)", flag_values=fv)
    flags.DEFINE_bool("eval_only", False, "evaluate the latest checkpoint once", flag_values=fv)
    flags.DEFINE_bool("export_only", False, "export the latest checkpoint only", flag_values=fv)
    flags.DEFINE_enum("mode", None, ["train", "eval", "train_and_eval", "continuous_eval", "export_only"],
                      "what to run (default train_and_eval)", flag_values=fv)
    flags.DEFINE_enum("distribution_strategy", "off", ["off", "one_device", "mirrored", "multi_worker_mirrored"],
                      "tf.distribute strategy (multi_worker_mirrored reads TF_CONFIG)", flag_values=fv)
    flags.DEFINE_integer("keep_checkpoint_max", 20, "latest checkpoints kept (0: all)", flag_values=fv)
    flags.DEFINE_integer("num_best_ckpt_to_keep", 3, "best checkpoints copied to model_dir/best", short_name="nbck",
                         flag_values=fv)
    flags.DEFINE_float("ratio_fine_eval", 1.0, "evaluate every epoch after this fraction of training",
                       flag_values=fv)
    flags.DEFINE_float("save_checkpoints_epochs", 1.0, "checkpoint period in epochs", flag_values=fv)
    flags.DEFINE_integer("save_checkpoints_steps", None, "checkpoint period in steps (overrides epochs)",
                         flag_values=fv)
    flags.DEFINE_string("preprocessing_type", "imagenet", "imagenet, imagenet_224_256, cifar, mnist, ...",
                        flag_values=fv)
    flags.DEFINE_string("autoaugment_type", None, "imagenet, good (cifar10), svhn, v0", flag_values=fv)
    flags.DEFINE_string("randaugment", None, "timm-style spec, e.g. rand-m9-mstd0.5-inc1", flag_values=fv)
    flags.DEFINE_integer("mixup_type", 0, "0 off, 1 doubled batch, 2 in-batch, 3 CutMix", flag_values=fv)
    flags.DEFINE_float("mixup_alpha", 0.2, "Beta(alpha, alpha)", flag_values=fv)
    flags.DEFINE_float("label_smoothing", 0.0, "label smoothing epsilon", short_name="lblsm", flag_values=fv)
    flags.DEFINE_float("kd_temp", 0.0, "> 0: distil from image/logit with this temperature", flag_values=fv)
    flags.DEFINE_string("online_teacher", None, "teacher run inside the train step (model_dir or SavedModel)",
                        flag_values=fv)
    flags.DEFINE_float("random_erasing_prob", 0.0, "random erasing probability", flag_values=fv)
    flags.DEFINE_integer("test_size", None, "FixRes: evaluation image size", flag_values=fv)
    flags.DEFINE_integer("train_size", None, "training image size (overrides the preset)", flag_values=fv)
    flags.DEFINE_bool("training_random_crop", True, "False: min_object_covered 1.0", flag_values=fv)
    flags.DEFINE_string("dct_method", "INTEGER_ACCURATE", "JPEG DCT method", short_name="dctm", flag_values=fv)
    flags.DEFINE_string("train_regex", "train-*", "training file glob", flag_values=fv)
    flags.DEFINE_string("val_regex", "validation-*", "validation file glob", flag_values=fv)
    flags.DEFINE_string("learning_rate_decay_type", "exponential", "fixed, exponential, polynomial, piecewise, cosine",
                        short_name="lrdt", flag_values=fv)
    flags.DEFINE_float("base_learning_rate", 0.01, "peak LR (not scaled by batch)", short_name="blr", flag_values=fv)
    flags.DEFINE_float("lr_warmup_epochs", 0, "linear warm-up epochs", flag_values=fv)
    flags.DEFINE_float("num_epochs_per_decay", 2.0, "decay period", short_name="nepd", flag_values=fv)
    flags.DEFINE_float("learning_rate_decay_factor", 0.94, "exponential factor", short_name="lrdf", flag_values=fv)
    flags.DEFINE_float("end_learning_rate", 1e-4, "polynomial end LR", short_name="elr", flag_values=fv)
    flags.DEFINE_list("piecewise_lr_boundary_epochs", ["30", "60", "80", "90"], "boundaries", short_name="pwlrb",
                      flag_values=fv)
    flags.DEFINE_list("piecewise_lr_decay_rates", ["1", "0.1", "0.01", "0.001", "1e-4"], "multipliers",
                      short_name="pwlrd", flag_values=fv)
    flags.DEFINE_float("momentum", 0.9, "SGD momentum", short_name="mmt", flag_values=fv)
    flags.DEFINE_bool("nesterov", False, "Nesterov momentum", flag_values=fv)
    flags.DEFINE_float("weight_decay", 4e-5, "L2 on kernels (BN and biases excluded)", short_name="wd", flag_values=fv)
    flags.DEFINE_float("l2sp_alpha", 0.0, "L2-SP strength toward the pretrained weights", flag_values=fv)
    flags.DEFINE_float("l2sp_beta", 0.0, "L2 on re-initialised layers under L2-SP", flag_values=fv)
    flags.DEFINE_list("lr_multipliers", [], "per layer group, e.g. stem=0.1,stage1=0.1,head=10", flag_values=fv)
    flags.DEFINE_integer("new_layers", 0, "re-initialise the last N layer groups (head=1)", flag_values=fv)
    flags.DEFINE_list("dropblock_kp", ["1.0", "0.9"], "DropBlock keep-prob start,end", short_name="drblkp",
                      flag_values=fv)
    flags.DEFINE_float("ema_decay", 0.0, "EMA of weights (0: off); evaluation uses the EMA copy", flag_values=fv)
    flags.DEFINE_float("grad_clip_norm", None, "clip gradients by global norm", flag_values=fv)
    flags.DEFINE_bool("deterministic", False, "seeded, ordered input and op determinism (exact resume)",
                      flag_values=fv)
    flags.DEFINE_integer("seed", 0, "seed of the deterministic mode", flag_values=fv)
    flags.DEFINE_integer("log_every_n_steps", 50, "console/TensorBoard period", flag_values=fv)
    _define_retrieval(fv)
    for name in IGNORED:
        if name not in fv:
            flags.DEFINE_string(name, None, "accepted for compatibility; ignored", flag_values=fv)


def _define_retrieval(fv) -> None:
    flags.DEFINE_string("cls_loss_type", "softmax", "softmax, sigmoid (BCE / positives) or focal", flag_values=fv)
    flags.DEFINE_float("focal_gamma", 2.0, "focal loss gamma", flag_values=fv)
    flags.DEFINE_float("focal_alpha", 0.25, "focal loss alpha (weight of the positives)", flag_values=fv)
    flags.DEFINE_string("logit_type", None, "arcface (or the original's arc_margin): cosine-softmax head",
                        flag_values=fv)
    flags.DEFINE_float("arc_s", 80.0, "ArcFace scale s", flag_values=fv)
    flags.DEFINE_float("arc_m", 0.15, "ArcFace additive angular margin m (radians)", flag_values=fv)
    flags.DEFINE_bool("zeroshot_eval", False, "evaluate Recall@K on embeddings (image retrieval)", flag_values=fv)
    flags.DEFINE_list("recall_at_k", ["1", "5"], "K values of Recall@K", flag_values=fv)
    flags.DEFINE_string("eval_similarity", "cosine", "cosine or euclidean, for Recall@K", flag_values=fv)


def define_flags(fv=flags.FLAGS) -> None:
    """Define every flag on `fv` (idempotent per FlagValues)."""
    if "data_dir" in fv:
        return
    _define_base(fv)
    _define_model(fv)
    _define_training(fv)


def _mode(fv) -> str:
    if fv.eval_only and fv.export_only:
        raise ConfigError("--eval_only and --export_only contradict each other; pass one")
    implied = "eval" if (fv.eval_only or fv.train_epochs == 0) else "export_only" if fv.export_only else None
    if implied and fv.mode and fv.mode != implied:
        raise ConfigError(f"--mode={fv.mode} contradicts {'--eval_only' if fv.eval_only else '--export_only'}")
    return implied or fv.mode or "train_and_eval"


def _check_unsupported(fv) -> None:
    if fv.logit_type and fv.logit_type not in LOGIT_TYPES:
        raise ConfigError(f"--logit_type={fv.logit_type!r} is invalid: expected arcface (alias arc_margin) or unset")
    if fv.data_format == "channels_first":
        logging.warning("--data_format=channels_first ignored: Keras on CPU and GPU runs NHWC here")
    for name in IGNORED:
        if fv[name].present:
            logging.warning("--%s is accepted for compatibility with the original and ignored", name)


def _multipliers(items) -> dict:
    out = {}
    for item in items:
        group, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--lr_multipliers item {item!r}: expected group=value, e.g. head=10")
        out[group.strip()] = float(value)
    return out


def _recall_ks(items) -> list[int]:
    try:  # the original passed these on as strings (its QUIRK); here they are integers
        return [int(item) for item in items]
    except ValueError:
        raise ConfigError(f"--recall_at_k={','.join(items)}: expected integers, e.g. 1,5") from None


def _model_hparams(fv, num_classes: int) -> dict:
    names = ("resnet_size", "resnet_version", "num_filters", "use_resnet_d", "use_se_block", "use_sk_block",
             "anti_alias_type", "anti_alias_filter_size", "bl_alpha", "bl_beta", "zero_gamma", "use_dropblock",
             "bn_momentum", "sync_bn", "pool_type", "embedding_size", "no_downsample", "width_multiplier", "dropout_rate",
             "conv_padding", "stem_pool_padding", "resnet_d_stride1_pool", "depth_multiplier", "se_ratio")
    values = {n: fv[n].value for n in names if fv[n].value is not None}
    for key in ("resnet_size", "resnet_version"):
        if key in values:
            values[key] = int(values[key])
    if fv.logit_type:
        values["logit_type"] = LOGIT_TYPES[fv.logit_type]
    if values.get("logit_type") == "cosine":
        values["cosine_scale"] = fv.arc_s
    return {**values, "num_classes": num_classes}


def config_from_flags(fv=flags.FLAGS) -> ExperimentConfig:
    """Translate parsed flags into a validated ExperimentConfig (errors name the flag)."""
    _check_unsupported(fv)
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
    if not fv.data_dir:
        raise ConfigError("--data_dir is required: the folder of TFRecords (train-*, validation-*) written by "
                          "python -m assembled_cnn.datasets.build")
    if not fv.dataset_name:
        raise ConfigError("--dataset_name is required (a registry name such as food101, or imagefolder "
                          "with a data_dir written by python -m assembled_cnn.datasets.build)")
    info = get_dataset_info(fv.dataset_name, fv.data_dir)
    model = model_config(fv.model, **_model_hparams(fv, info.num_classes))
    data = DataConfig(
        dataset_name=fv.dataset_name, data_dir=fv.data_dir, preprocessing_type=fv.preprocessing_type,
        train_regex=fv.train_regex, val_regex=fv.val_regex, autoaugment_type=fv.autoaugment_type,
        randaugment=fv.randaugment, mixup_type=fv.mixup_type, mixup_alpha=fv.mixup_alpha,
        label_smoothing=fv.label_smoothing, kd_temp=fv.kd_temp, random_erasing_prob=fv.random_erasing_prob,
        test_size=fv.test_size, train_size=fv.train_size, training_random_crop=fv.training_random_crop,
        dct_method=fv.dct_method, deterministic=fv.deterministic, seed=fv.seed)
    train = TrainConfig(
        batch_size=fv.batch_size, train_epochs=fv.train_epochs, max_train_steps=fv.max_train_steps,
        base_learning_rate=fv.base_learning_rate, learning_rate_decay_type=fv.learning_rate_decay_type,
        lr_warmup_epochs=fv.lr_warmup_epochs, num_epochs_per_decay=fv.num_epochs_per_decay,
        learning_rate_decay_factor=fv.learning_rate_decay_factor, end_learning_rate=fv.end_learning_rate,
        piecewise_lr_boundary_epochs=[float(v) for v in fv.piecewise_lr_boundary_epochs],
        piecewise_lr_decay_rates=[float(v) for v in fv.piecewise_lr_decay_rates], momentum=fv.momentum,
        nesterov=fv.nesterov, weight_decay=fv.weight_decay, l2sp_alpha=fv.l2sp_alpha, l2sp_beta=fv.l2sp_beta,
        lr_multipliers=_multipliers(fv.lr_multipliers), new_layers=fv.new_layers,
        dropblock_kp=[float(v) for v in fv.dropblock_kp], dtype=fv.dtype, loss_scale=fv.loss_scale,
        ema_decay=fv.ema_decay, grad_clip_norm=fv.grad_clip_norm, online_teacher=fv.online_teacher,
        cls_loss_type=fv.cls_loss_type, focal_gamma=fv.focal_gamma, focal_alpha=fv.focal_alpha, arc_margin=fv.arc_m)
    run = RunConfig(
        model_dir=fv.model_dir, mode=_mode(fv), distribution_strategy=fv.distribution_strategy,
        num_gpus=fv.num_gpus, epochs_between_evals=fv.epochs_between_evals, ratio_fine_eval=fv.ratio_fine_eval,
        save_checkpoints_epochs=fv.save_checkpoints_epochs, save_checkpoints_steps=fv.save_checkpoints_steps,
        keep_checkpoint_max=fv.keep_checkpoint_max, num_best_ckpt_to_keep=fv.num_best_ckpt_to_keep,
        pretrained_model_checkpoint_path=fv.pretrained_model_checkpoint_path,
        warm_start_bn_stats=fv.warm_start_bn_stats, warm_start_head=fv.warm_start_head, export_dir=fv.export_dir,
        log_every_n_steps=fv.log_every_n_steps, stop_threshold=fv.stop_threshold, clean=fv.clean,
        op_determinism=fv.deterministic, zeroshot_eval=fv.zeroshot_eval,
        recall_at_k=_recall_ks(fv.recall_at_k), eval_similarity=fv.eval_similarity)
    return ExperimentConfig(model=model, data=data, train=train, run=run).validate()

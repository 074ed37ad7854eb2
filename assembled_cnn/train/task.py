"""ClassificationTask: the model, its inputs, losses and metrics, the step's parts and the steps.

The task owns everything a training step does (forward, loss, gradients, per-group LR,
clipping, the EMA update, DropBlock's schedule, the online teacher) and a new run's
initialisation (warm start). Strategies, the loop, checkpoints, summaries and modes belong to
the runner, which wraps `train_step` (what one replica computes) in `strategy.run`.
"""

from __future__ import annotations

import dataclasses
import math

import keras
import tensorflow as tf

from assembled_cnn.config import ConfigError, DataConfig, ExperimentConfig
from assembled_cnn.datasets.input import InputConfig, build_dataset, list_files
from assembled_cnn.datasets.registry import DatasetInfo, get_dataset_info
from assembled_cnn.datasets.verify import has_teacher_logits
from assembled_cnn.nets import build_model, model_info
from assembled_cnn.preprocessing import normalize
from assembled_cnn.preprocessing.crop import shift_image
from assembled_cnn.preprocessing.mixing import MixingConfig
from assembled_cnn.preprocessing.presets import PreprocessConfig, get_preset
from assembled_cnn.preprocessing.random_erasing import RandomErasingConfig
from assembled_cnn.train import losses, metrics
from assembled_cnn.train.checkpoints import warm_start
from assembled_cnn.train.ema import WeightEma
from assembled_cnn.train.regularizers import L2SPConfig, Regularization, gradient_multipliers
from assembled_cnn.train.step_parts import StepParts, dropblock_schedule
from assembled_cnn.train.layer_groups import last_groups

_MIXUP_MODES = {0: "none", 1: "mixup1", 2: "mixup2", 3: "cutmix"}
DTYPE_POLICIES = {"fp32": "float32", "fp16": "mixed_float16", "bf16": "mixed_bfloat16"}


def preprocess_config_of(d: DataConfig) -> PreprocessConfig:
    """The preset a run's data config selects, with its overrides (train and eval halves)."""
    overrides = {"autoaugment": d.autoaugment_type, "randaugment": d.randaugment,
                 "random_crop": d.training_random_crop, "dct_method": d.dct_method}
    if d.random_erasing_prob > 0:
        overrides["random_erasing"] = RandomErasingConfig(probability=d.random_erasing_prob)
    if d.train_size:
        overrides["train_size"] = d.train_size
    preset = get_preset(d.preprocessing_type, **overrides)
    return preset.with_test_size(d.test_size) if d.test_size else preset


def logit_bias_init_of(config: ExperimentConfig) -> float:
    """The original's FC bias init: 0 for softmax, −log(C − 1) for sigmoid and focal (a prior
    of 1/C per class), unless the model config sets one."""
    model, loss_type = config.model, config.train.cls_loss_type
    if model.logit_bias_init or loss_type == "softmax" or model.num_classes < 3:
        return model.logit_bias_init
    return -math.log(model.num_classes - 1)


def build_task_model(config: ExperimentConfig) -> keras.Model:
    """The network a run trains (and a model_dir restores): its dtype policy, input size, head bias."""
    keras.config.set_dtype_policy(DTYPE_POLICIES[config.train.dtype])
    try:
        size = preprocess_config_of(config.data).train_size if config.model.resnet_version == 2 else None
        model_cfg = dataclasses.replace(config.model, input_size=config.model.input_size or size,
                                        logit_bias_init=logit_bias_init_of(config))
        return build_model(config=model_cfg)
    finally:
        keras.config.set_dtype_policy("float32")


def shift_offsets(shift: int) -> list[tuple[int, int]]:
    """The (dx, dy) of --eval_shift's views: right, left, down, up; none when shift is 0."""
    return [(shift, 0), (-shift, 0), (0, shift), (0, -shift)] if shift > 0 else []


def eval_view_count(run) -> int:
    """How many views ClassificationTask.test_time_views makes per image under this RunConfig."""
    return 1 + int(run.eval_flip) + len(shift_offsets(run.eval_shift))


class ClassificationTask:
    def __init__(self, config: ExperimentConfig, dataset_info: DatasetInfo | None = None):
        self.config = config
        self.info = dataset_info or get_dataset_info(config.data.dataset_name, config.data.data_dir)
        if config.model.num_classes != self.info.num_classes:
            raise ConfigError(f"--num_classes={config.model.num_classes} but dataset "
                              f"{self.info.name!r} has {self.info.num_classes} classes")
        self._shift_fill = self._eval_shift_fill()

    def _eval_shift_fill(self):
        """The border colour of --eval_shift's views, computed here, not in the traced eval step."""
        shift = self.config.run.eval_shift
        if not shift:
            return None
        preprocess = preprocess_config_of(self.config.data)
        height, _, channels = preprocess.output_shape(False)
        if 2 * shift >= height:
            raise ConfigError(f"--eval_shift={shift} is invalid: expected fewer pixels than half the "
                              f"{height}-px evaluation image (shifts of 1-4 px are the usual choice)")
        return normalize.black_pixel(preprocess, channels).numpy()

    def check_training_records(self) -> None:
        """Offline KD needs teacher logits in the records: say so before a graph error does."""
        d = self.config.data
        if d.kd_temp <= 0 or self.config.train.online_teacher:
            return
        files = list_files(self.input_config(), True)
        if not has_teacher_logits(files[0]):
            raise ConfigError(f"--kd_temp={d.kd_temp} needs teacher logits in the training records, but {files[0]} "
                              "has no image/logit; write them with python -m assembled_cnn.kd.extract_logits, "
                              "or pass --online_teacher")

    # ------------------------------------------------------------------ inputs
    def preprocess_config(self) -> PreprocessConfig:
        return preprocess_config_of(self.config.data)

    def input_config(self, start_batch: int = 0, train_size: int | None = None) -> InputConfig:
        """`train_size`: a progressive-resizing phase's size instead of the preset's."""
        d, t = self.config.data, self.config.train
        preprocess = self.preprocess_config()
        if train_size:
            preprocess = dataclasses.replace(preprocess, train_size=train_size)
        mixing = MixingConfig(mode=_MIXUP_MODES[d.mixup_type], alpha=d.mixup_alpha or 0.2,
                              label_smoothing=d.label_smoothing, kd_temperature=d.kd_temp or 1.0)
        return InputConfig(
            data_dir=d.data_dir, global_batch_size=t.batch_size, num_classes=self.info.num_classes,
            preprocess=preprocess, mixing=mixing, train_pattern=d.train_regex,
            eval_pattern=d.val_regex, with_teacher_logits=d.kd_temp > 0 and not t.online_teacher,
            shuffle_buffer=d.shuffle_buffer or self.info.shuffle_buffer, cache=d.cache,
            deterministic=d.deterministic, seed=d.seed, label_offset=self.info.label_offset,
            start_batch=start_batch)

    def build_inputs(self, is_training: bool, input_context=None, start_batch: int = 0,
                     train_size: int | None = None) -> tf.data.Dataset:
        config = self.input_config(start_batch, train_size if is_training else None)
        if not is_training:  # unlike the original, validation records need no teacher logits
            config = dataclasses.replace(config, with_teacher_logits=False)
        return build_dataset(config, is_training, input_context)

    # ------------------------------------------------------------------ model
    def build_model(self) -> keras.Model:
        return build_task_model(self.config)

    def logit_bias_init(self) -> float:
        return logit_bias_init_of(self.config)

    def build_regularization(self, model: keras.Model) -> Regularization:
        t = self.config.train
        l2sp = L2SPConfig(alpha=t.l2sp_alpha, beta=t.l2sp_beta, new_groups=last_groups(t.new_layers))
        return Regularization(model, t.weight_decay, l2sp)

    def build_step_parts(self, model: keras.Model, total_steps: int) -> StepParts:
        """The task-owned parts of a step (create them under the strategy's scope)."""
        t = self.config.train
        teacher = None
        if t.online_teacher:
            from assembled_cnn.kd.teacher import load_teacher
            teacher = load_teacher(t.online_teacher)
        return StepParts(
            regularization=self.build_regularization(model),
            ema=WeightEma(model, t.ema_decay) if t.ema_decay > 0 else None, teacher=teacher,
            multipliers=gradient_multipliers(model, t.lr_multipliers) if t.lr_multipliers else None,
            grad_clip_norm=t.grad_clip_norm, dropblock=dropblock_schedule(model, t.dropblock_kp, total_steps),
            dropblock_seeds=[layer.seed_generator.state for layer in model_info(model).dropblock_layers])

    def initialize(self, model: keras.Model, parts: StepParts) -> dict | None:
        """A new run's start: warm start from --pretrained_model_checkpoint_path when given;
        returns the warm-start report (None without one)."""
        run = self.config.run
        if not run.pretrained_model_checkpoint_path:
            return None
        report = warm_start(model, run.pretrained_model_checkpoint_path, run.warm_start_bn_stats,
                            run.warm_start_head)
        parts.restart_from_weights()
        return report

    # ------------------------------------------------------------------ steps
    def compute_loss(self, model, features, targets, regularization, num_replicas: int, teacher=None):
        """Per-replica loss scaled so that summing over replicas gives the global mean."""
        logits = model(features["image"], training=True)
        parts = {"cross_entropy": self.supervised_loss(targets["targets"], logits)}
        kd_temp = self.config.data.kd_temp
        if kd_temp > 0:
            probs = targets.get("teacher_probs")
            if teacher is not None:
                probs = tf.nn.softmax(tf.cast(teacher(features["image"]), tf.float32) / kd_temp)
            parts["distillation"] = self.config.data.kd_weight * losses.distillation_loss(probs, logits, kd_temp)
        parts["regularization"] = regularization.loss()
        total = tf.add_n(list(parts.values()))
        return total / num_replicas, logits, parts

    def supervised_loss(self, targets, logits) -> tf.Tensor:
        """Softmax CE (ArcFace margin on cosine heads), sigmoid BCE or focal: `--cls_loss_type`."""
        t, m = self.config.train, self.config.model
        arc_scale = m.cosine_scale if m.logit_type == "cosine" else 0.0
        return losses.supervised_loss(targets, logits, t.cls_loss_type, arc_scale=arc_scale, arc_margin=t.arc_margin,
                                      focal_gamma=t.focal_gamma, focal_alpha=t.focal_alpha)

    def replica_gradients(self, model, features, targets, parts: StepParts, num_replicas: int, optimizer=None):
        """This replica's share of the global gradient (summing over replicas gives the gradient of
        the global mean loss), its loss and loss parts. With a loss-scaling optimizer (fp16) the
        gradients carry its scale, which its `apply_gradients` removes."""
        with tf.GradientTape() as tape:
            loss, _, loss_parts = self.compute_loss(model, features, targets, parts.regularization, num_replicas,
                                                    parts.teacher)
            scaled = optimizer.scale_loss(loss) if hasattr(optimizer, "scale_loss") else loss
        return tape.gradient(scaled, model.trainable_variables), loss, loss_parts

    def train_step(self, inputs, model, optimizer, parts: StepParts, num_replicas: int) -> dict:
        """One replica's step: forward, loss, gradients, LR multipliers, clipping, update."""
        features, targets = inputs
        grads, loss, loss_parts = self.replica_gradients(model, features, targets, parts, num_replicas, optimizer)
        optimizer.apply_gradients(zip(parts.adjust_gradients(grads), model.trainable_variables))
        return {"loss": loss * num_replicas, **loss_parts}

    def eval_step(self, model, features, targets) -> dict:
        views = self.test_time_views(features["image"])
        logits = [model(view, training=False) for view in views]
        logits = metrics.mean_softmax_logits(*logits) if len(logits) > 1 else logits[0]
        return metrics.batch_statistics(targets["label"], logits, self.info.num_classes)

    def test_time_views(self, images) -> list:
        """The image, its mirror (eval_flip) and its four shifts by eval_shift pixels (eval_shift),
        whose softmaxes the evaluation averages."""
        run = self.config.run
        views = [images, tf.image.flip_left_right(images)] if run.eval_flip else [images]
        views += [shift_image(images, dx, dy, self._shift_fill) for dx, dy in shift_offsets(run.eval_shift)]
        return views

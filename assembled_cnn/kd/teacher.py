"""Load a distillation teacher as one callable ``images -> logits``.

Shared by the offline extractor (``python -m assembled_cnn.kd.extract_logits``) and the
trainer's online-teacher option, so both accept the same teacher specs:

* a model_dir of this package (``model_config.json`` + TF2 checkpoint);
* ``tf1:PATH``: a checkpoint of the original TF1 code, rebuilt from a preset and model
  flags (``teacher_model='assemble_resnet50', num_classes=1001``);
* a SavedModel directory with a serving signature taking one float image tensor (our
  export, or a TF-Hub classifier such as the original's AmoebaNet/EfficientNet teachers);
* a ``keras.Model`` or any callable, passed through (tests, notebooks).

The callable runs in inference mode (BN moving statistics, no dropout / DropBlock), takes
float images of any float dtype and returns float32 logits, so it can sit inside a
mixed-precision ``tf.function`` train step.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import keras
import tensorflow as tf

from assembled_cnn.errors import UserError
from assembled_cnn.experiment import HPARAMS_FILE, load_experiment
from assembled_cnn.model_dir import MODEL_CONFIG_FILE
from assembled_cnn.nets import ModelConfig, build_model, model_config
from assembled_cnn.nets.tf1_checkpoint import load_tf1_checkpoint

TF1_PREFIX = "tf1:"
SAVED_MODEL_FILE = "saved_model.pb"
PREFERRED_SIGNATURE = "serving_default"
PREFERRED_OUTPUT_KEYS = ("logits", "default", "output_0")


class TeacherError(UserError):
    """The teacher spec cannot be loaded; the message says which spec/flag and what to do."""


@dataclass(frozen=True)
class Teacher:
    """A loaded teacher: call it on a batch of preprocessed images to get float32 logits."""

    fn: Callable[[tf.Tensor], tf.Tensor]
    description: str
    kind: str  # 'model_dir' | 'tf1' | 'saved_model' | 'keras' | 'callable'
    input_dtype: tf.DType = tf.float32
    model: keras.Model | None = None
    input_shape: tuple | None = None  # (H, W, C) with None for free sizes; None: unknown
    preprocess: Any = None  # the PreprocessConfig a model_dir teacher was trained with

    def check_input_shape(self, shape: Sequence[int], flag: str = "--preprocessing_type"):
        """Fail early, naming `flag`, when preprocessed images cannot feed this teacher."""
        if self.input_shape is None or len(self.input_shape) != len(shape):
            return
        if any(want is not None and want != got for want, got in zip(self.input_shape, shape)):
            raise TeacherError(f"teacher {self.description} takes images of shape "
                               f"{tuple(self.input_shape)} but {flag} gives {tuple(shape)}; "
                               "choose the preset the teacher was trained/exported with")

    def __call__(self, images) -> tf.Tensor:
        logits = self.fn(tf.cast(images, self.input_dtype))
        logits = tf.cast(logits, tf.float32)
        if logits.shape.rank is not None and logits.shape.rank != 2:
            raise TeacherError(f"teacher {self.description} returned shape {logits.shape}; "
                               "expected [batch, classes] logits")
        return logits


def _keras_teacher(model: keras.Model, description: str, kind: str) -> Teacher:
    shape = getattr(model, "input_shape", None)
    return Teacher(fn=lambda images: model(images, training=False), description=description,
                   kind=kind, model=model, input_shape=tuple(shape[1:]) if shape else None)


def parse_hparams(text: str | None) -> dict[str, Any]:
    """``'use_se_block=true,num_filters=32'`` → typed ModelConfig overrides (CLI helper)."""
    if not text:
        return {}
    defaults = {f.name: f.default for f in dataclasses.fields(ModelConfig)}
    values: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or name not in defaults:
            raise TeacherError(f"--teacher_hparams item {item!r} is not NAME=VALUE with NAME a "
                               f"model flag; valid names: {sorted(defaults)}")
        values[name] = _typed_value(name, raw.strip(), defaults[name])
    return values


def _typed_value(name: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise TeacherError(f"--teacher_hparams {name}={raw!r}: expected true/false")
        return raw.lower() in ("1", "true", "yes")
    if isinstance(default, (int, float)) or default is None:
        kind = float if isinstance(default, float) else int
        try:
            return kind(raw)
        except ValueError as err:
            raise TeacherError(f"--teacher_hparams {name}={raw!r}: expected a number") from err
    return raw


def _tf1_teacher(path: str, teacher_model: str | None, num_classes: int | None,
                 hparams: dict[str, Any]) -> Teacher:
    if teacher_model is None and not hparams:
        raise TeacherError(
            f"teacher {TF1_PREFIX}{path}: a TF1 checkpoint does not say its architecture; pass "
            "--teacher_model (e.g. assemble_resnet50) and --teacher_num_classes (e.g. 1001), "
            "plus --teacher_hparams for flags that differ from the preset")
    config = model_config(teacher_model, num_classes=num_classes, **hparams)
    model = build_model(config=config)
    load_tf1_checkpoint(model, path, skip_head=False)
    name = teacher_model or "custom"
    return _keras_teacher(model, f"{TF1_PREFIX}{path} ({name}, {config.num_classes} classes)",
                          "tf1")


def _float_signature(loaded, path: str, signature: str | None):
    """The named signature, else serving_default, else the only one with one float input."""
    signatures = dict(getattr(loaded, "signatures", {}) or {})
    if signature is not None:
        if signature not in signatures:
            raise TeacherError(f"SavedModel {path} has no signature {signature!r} "
                               f"(--teacher_signature); it has {sorted(signatures)}")
        return signature, signatures[signature]
    candidates = [PREFERRED_SIGNATURE] + sorted(set(signatures) - {PREFERRED_SIGNATURE})
    for name in candidates:
        if name in signatures and _float_input(signatures[name]) is not None:
            return name, signatures[name]
    return None, None


def _float_input(concrete) -> tuple[str, tf.TensorSpec] | None:
    _, kwargs = concrete.structured_input_signature
    if len(kwargs) != 1:
        return None
    name, spec = next(iter(kwargs.items()))
    if not spec.dtype.is_floating or spec.shape.rank not in (None, 4):
        return None
    return name, spec


def _pick_output(outputs: dict, path: str, output_key: str | None) -> str:
    if output_key is not None:
        if output_key not in outputs:
            raise TeacherError(f"SavedModel {path} outputs {sorted(outputs)}, not {output_key!r} "
                               "(--teacher_output_key)")
        return output_key
    for key in PREFERRED_OUTPUT_KEYS:
        if key in outputs:
            return key
    if len(outputs) == 1:
        return next(iter(outputs))
    raise TeacherError(f"SavedModel {path} has several outputs {sorted(outputs)}; choose the "
                       "logits with --teacher_output_key")


def _saved_model_teacher(path: str, signature: str | None, output_key: str | None) -> Teacher:
    loaded = tf.saved_model.load(path)
    name, concrete = _float_signature(loaded, path, signature)
    if concrete is None:
        if callable(loaded):  # TF-Hub style module: __call__ on float images
            return Teacher(fn=lambda images: loaded(images), description=f"saved_model:{path}",
                           kind="saved_model")
        raise TeacherError(f"SavedModel {path} has no signature with one float image input; "
                           "export it with a float-input serving signature")
    input_name, spec = _float_input(concrete)
    key = _pick_output(concrete.structured_outputs, path, output_key)

    def call(images):
        return concrete(**{input_name: images})[key]
    # Keep `loaded` alive: the concrete function's variables belong to it.
    call.loaded_object = loaded  # type: ignore[attr-defined]
    shape = tuple(spec.shape.as_list()[1:]) if spec.shape.rank == 4 else None
    return Teacher(fn=call, description=f"saved_model:{path} [{name}:{key}]",
                   kind="saved_model", input_dtype=spec.dtype, input_shape=shape)


def load_teacher(spec: str | os.PathLike | keras.Model | Callable, *,
                 teacher_model: str | None = None, num_classes: int | None = None,
                 hparams: dict[str, Any] | None = None, checkpoint: str | None = None,
                 signature: str | None = None, output_key: str | None = None) -> Teacher:
    """Resolve a teacher spec (see the module docstring) into a :class:`Teacher`.

    teacher_model / num_classes / hparams: architecture of a ``tf1:`` checkpoint.
    checkpoint: a specific checkpoint of a model_dir (default: its latest).
    signature / output_key: which SavedModel signature and output hold the logits.
    """
    if isinstance(spec, Teacher):
        return spec
    if isinstance(spec, keras.Model):
        return _keras_teacher(spec, f"keras:{spec.name}", "keras")
    if callable(spec):
        return Teacher(fn=spec, description=getattr(spec, "__name__", "callable"), kind="callable")
    text = os.fspath(spec)
    if text.startswith(TF1_PREFIX):
        return _tf1_teacher(text[len(TF1_PREFIX):], teacher_model, num_classes, hparams or {})
    if os.path.isfile(os.path.join(text, MODEL_CONFIG_FILE)) or os.path.isfile(os.path.join(text, HPARAMS_FILE)):
        experiment = load_experiment(text, checkpoint=checkpoint)  # EMA copy and dtype as the run evaluated
        teacher = _keras_teacher(experiment.model, f"model_dir:{text}", "model_dir")
        recorded = experiment.preprocess if experiment.config is not None else None  # not a guess
        return dataclasses.replace(teacher, preprocess=recorded)
    if os.path.isfile(os.path.join(text, SAVED_MODEL_FILE)):
        return _saved_model_teacher(text, signature, output_key)
    raise TeacherError(
        f"--teacher {text!r} is neither a model_dir (no {MODEL_CONFIG_FILE}), a SavedModel "
        f"(no {SAVED_MODEL_FILE}) nor '{TF1_PREFIX}PATH' for an original TF1 checkpoint")

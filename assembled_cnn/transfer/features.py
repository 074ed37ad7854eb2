"""Penultimate features of a frozen network on TFRecords, for linear probes (fixed features).

Every model of ``assembled_cnn.nets`` names its penultimate activation ``features`` (after
global pooling / embedding, before the classifier), so one sub-model gives them. Images
get the *eval* preprocessing (resize + centre crop + normalisation), as in Kornblith et
al.'s fixed-feature protocol, and the model runs in inference mode (BN statistics).
"""

from __future__ import annotations

import os
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from assembled_cnn.datasets import schema
from assembled_cnn.experiment import load_experiment
from assembled_cnn.preprocessing import PreprocessConfig, get_preset, preprocess_image

FEATURES_LAYER = "features"


def feature_model(model: keras.Model | str) -> keras.Model:
    """A model that outputs the ``features`` layer (model or model_dir path, restored as its run
    evaluated it: the EMA copy when EMA was on)."""
    if isinstance(model, (str, os.PathLike)):
        model = load_experiment(os.fspath(model)).model
    try:
        layer = model.get_layer(FEATURES_LAYER)
    except ValueError as err:
        raise ValueError(f"model {model.name!r} has no layer named {FEATURES_LAYER!r}; build it "
                         "with assembled_cnn.nets.build_model") from err
    return keras.Model(model.inputs, layer.output, name=f"{model.name}_features")


def _record_files(source: str | Sequence[str], pattern: str) -> list[str]:
    if isinstance(source, (str, os.PathLike)):
        source = os.fspath(source)
        if tf.io.gfile.isdir(source):
            files = sorted(tf.io.gfile.glob(os.path.join(source, pattern)))
            if not files:
                raise FileNotFoundError(f"no TFRecord files match {pattern!r} in {source!r}")
            return files
        return [source]
    return [os.fspath(path) for path in source]


def _labelled_images(source, preprocess: PreprocessConfig, pattern: str,
                     label_offset: int) -> tf.data.Dataset:
    """(eval-preprocessed image, label − label_offset) in file order."""
    if isinstance(source, tf.data.Dataset):
        records = source
    else:
        records = tf.data.TFRecordDataset(_record_files(source, pattern))

    def parse(serialized):
        record = schema.parse_example(serialized)
        image = preprocess_image(record["image_bytes"], False, preprocess)
        return image, record["label"] - label_offset
    return records.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def extract_features(model: keras.Model | str, dataset_or_dir, preprocess: PreprocessConfig | str | None,
                     batch_size: int = 256, *, pattern: str = "train-*", label_offset: int = 0,
                     max_examples: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Features [N, D] (float32) and integer labels [N] of every record, in file order.

    dataset_or_dir: a TFRecord directory (files matching `pattern`), a file or list of
    files, or a ``tf.data.Dataset`` of serialized records. label_offset is subtracted from
    the stored label (the registry's ``label_offset``, 1 for ``imagenet1k``).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be >= 1")
    if preprocess is None:  # a model_dir knows its own preprocessing
        if not isinstance(model, (str, os.PathLike)):
            raise ValueError("preprocess=None needs a model_dir path as `model`")
        experiment = load_experiment(os.fspath(model))
        model, preset = experiment.model, experiment.preprocess
    else:
        preset = get_preset(preprocess) if isinstance(preprocess, str) else preprocess
    extractor = feature_model(model)
    run = tf.function(lambda images: extractor(images, training=False), reduce_retracing=True)
    dataset = _labelled_images(dataset_or_dir, preset, pattern, label_offset)
    if max_examples is not None:
        dataset = dataset.take(max_examples)
    features, labels = [], []
    for images, batch_labels in dataset.batch(batch_size).prefetch(2):
        output = run(images).numpy()
        features.append(output.reshape(len(output), -1).astype(np.float32))
        labels.append(batch_labels.numpy())
    if not features:
        raise ValueError(f"no records found in {dataset_or_dir!r}")
    return np.concatenate(features), np.concatenate(labels).astype(np.int64)

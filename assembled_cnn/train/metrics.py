"""Evaluation metrics from summable per-batch statistics.

A step returns counts (top-1/top-5 hits, per-class hits, ECE bins); the runner sums them over
replicas and batches, so metrics are exact whatever the strategy or the batch split.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

ECE_BINS = 10


def batch_statistics(labels, logits, num_classes: int, weights=None) -> dict[str, tf.Tensor]:
    """Sufficient statistics of one batch; `weights` masks padded examples (1 keep, 0 drop)."""
    labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
    logits = tf.cast(logits, tf.float32)
    w = tf.ones_like(labels, tf.float32) if weights is None else tf.cast(weights, tf.float32)
    probs = tf.nn.softmax(logits)
    prediction = tf.argmax(logits, axis=-1, output_type=tf.int32)
    correct = tf.cast(tf.equal(prediction, labels), tf.float32) * w
    k = min(5, num_classes)
    top5 = tf.cast(tf.math.in_top_k(labels, logits, k), tf.float32) * w
    one_hot = tf.one_hot(labels, num_classes) * w[:, None]
    confidence = tf.reduce_max(probs, axis=-1)
    bins = tf.clip_by_value(tf.cast(tf.math.ceil(confidence * ECE_BINS) - 1, tf.int32), 0, ECE_BINS - 1)
    bin_one_hot = tf.one_hot(bins, ECE_BINS) * w[:, None]
    return {
        "count": tf.reduce_sum(w), "correct": tf.reduce_sum(correct), "correct_top5": tf.reduce_sum(top5),
        "class_count": tf.reduce_sum(one_hot, 0), "class_correct": tf.reduce_sum(one_hot * correct[:, None], 0),
        "bin_count": tf.reduce_sum(bin_one_hot, 0),
        "bin_confidence": tf.reduce_sum(bin_one_hot * confidence[:, None], 0),
        "bin_correct": tf.reduce_sum(bin_one_hot * correct[:, None], 0),
        "loss_sum": tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits) * w),
    }


def mean_softmax_logits(*logits) -> tf.Tensor:
    """Logits whose softmax is the mean of the given ones' softmaxes (test-time augmentation)."""
    probs = tf.add_n([tf.nn.softmax(tf.cast(x, tf.float32)) for x in logits]) / len(logits)
    return tf.math.log(tf.maximum(probs, 1e-12))


def log_odds(accuracy: float) -> float:
    """log(p / (1 − p)), Kornblith et al.'s scale for comparing accuracies; clipped at 1e-6."""
    p = min(max(accuracy, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def summarize(stats: dict[str, np.ndarray]) -> dict[str, float]:
    """top1, top5, mean per-class accuracy (over classes present), ECE (10 bins), log-odds, loss."""
    count = float(stats["count"])
    if count == 0:
        raise ValueError("no examples were evaluated: check --data_dir and --val_regex")
    top1 = float(stats["correct"]) / count
    present = stats["class_count"] > 0
    per_class = np.asarray(stats["class_correct"])[present] / np.asarray(stats["class_count"])[present]
    bin_count = np.asarray(stats["bin_count"])
    gap = np.abs(np.asarray(stats["bin_correct"]) - np.asarray(stats["bin_confidence"]))
    return {"top1": top1, "top5": float(stats["correct_top5"]) / count,
            "mean_per_class": float(per_class.mean()), "ece": float(gap.sum() / count),
            "log_odds": log_odds(top1), "loss": float(stats["loss_sum"]) / count,
            "num_examples": int(round(count))}


def accumulate(total: dict | None, stats: dict) -> dict:
    values = {k: np.asarray(v, np.float64) for k, v in stats.items()}
    return values if total is None else {k: total[k] + values[k] for k in total}

"""Zero-shot (retrieval) evaluation of a classification model: embed the whole validation split
under any tf.distribute strategy, then Recall@K over all pairs (`--zeroshot_eval`).

The embedding is the model's `features` layer: the pooled (GAP/GeM) features, or the BN'd
embedding before its ReLU when `embedding_size` > 0 -- the original's `return_embedding=True`.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from assembled_cnn.retrieval.recall import Blocks, recall_at_k

EMBEDDING_LAYER = "features"


def with_embedding_output(model: keras.Model) -> keras.Model | None:
    """`model` with its `features` tensor as a second output (same weights), or None without one.

    A layer shared by two models (a BN-folded copy reuses the original's weight-free layers) has
    one call node per model: the node that belongs to `model`'s graph is the one that builds."""
    try:
        layer = model.get_layer(EMBEDDING_LAYER)
    except ValueError:
        return None
    for node in reversed(layer._inbound_nodes):
        try:
            return keras.Model(model.input, [model.output, node.output_tensors[0]], name=f"{model.name}_embedding")
        except ValueError:
            continue
    return None


def embedding_model(model: keras.Model) -> keras.Model:
    """The sub-model from the images to the `features` layer (shares the weights)."""
    both = with_embedding_output(model)
    if both is None:
        raise ValueError(f"model {model.name!r} has no {EMBEDDING_LAYER!r} layer to take embeddings from; "
                         "build it with assembled_cnn.build_model")
    return keras.Model(both.input, both.outputs[1], name=f"{model.name}_embedding")


def make_embed_fn(strategy: tf.distribute.Strategy, embedder: keras.Model):
    """A tf.function: one distributed eval batch -> (embeddings, labels) of all replicas."""
    def replica_fn(features, targets):
        embeddings = tf.cast(embedder(features["image"], training=False), tf.float32)
        return embeddings, tf.cast(tf.reshape(targets["label"], [-1]), tf.int64)

    @tf.function(reduce_retracing=True)
    def embed_fn(inputs):
        features, targets = inputs
        embeddings, labels = strategy.run(replica_fn, args=(features, targets))
        return strategy.gather(embeddings, axis=0), strategy.gather(labels, axis=0)
    return embed_fn


def extract_embeddings(embed_fn, dataset) -> tuple[np.ndarray, np.ndarray]:
    """Run `embed_fn` over a (distributed) dataset; returns embeddings [N, D] and labels [N]."""
    embeddings, labels = [], []
    for inputs in dataset:
        batch_embeddings, batch_labels = embed_fn(inputs)
        embeddings.append(batch_embeddings.numpy())
        labels.append(batch_labels.numpy())
    if not embeddings:
        raise ValueError("the validation split is empty: nothing to retrieve from")
    return np.concatenate(embeddings), np.concatenate(labels)


def retrieval_metrics(embeddings, labels, ks, similarity: str = "cosine",
                      blocks: Blocks = Blocks()) -> dict[str, float]:
    """Recall@K for `ks` (always including K = 1, the best-checkpoint metric) and the counts."""
    results = recall_at_k(embeddings, labels, sorted({1, *map(int, ks)}), similarity, blocks)
    results["count"] = int(len(labels))
    results["num_distractors"] = int(np.sum(np.asarray(labels) == -1))
    return results

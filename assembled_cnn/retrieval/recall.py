"""Exact nearest neighbours and Recall@K over an embedding set, in bounded memory.

The original's zero-shot evaluation (`metric/recall_metric.py`): every embedding of the
validation split is a query against all the others (the query itself excluded); Recall@K is the
fraction of queries with at least one item of their own label among their K nearest neighbours.
Items labelled -1 are distractors: they are in the index but never queried.

Scores are computed block by block and the running top-K is merged after each database block,
so the working memory is the embeddings, one score block and the running top-K, whatever the set
size. When every item is a query, each off-diagonal block product serves both blocks' queries
(the dot products are symmetric), which halves the matrix multiplications. Ties are broken by the lower database index (`tf.math.top_k` keeps the lower position
first, and every merge puts the earlier, lower-index candidates first).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

SIMILARITIES = ("cosine", "euclidean")
DISTRACTOR = -1


@dataclass(frozen=True)
class Blocks:
    """Rows scored at once: queries x database items for a query subset (1024 x 16384 x 4 B =
    64 MiB of scores), square blocks for all pairs (4096 x 4096: 64 MiB)."""

    queries: int = 1024
    database: int = 16384
    square: int = 4096


def prepare(embeddings, similarity: str) -> tuple[tf.Tensor, tf.Tensor | None]:
    """float32 embeddings (L2-normalised for cosine) and, for euclidean, the squared norms."""
    if similarity not in SIMILARITIES:
        raise ValueError(f"similarity={similarity!r}: expected one of {SIMILARITIES}")
    x = tf.convert_to_tensor(embeddings, tf.float32)
    if x.shape.rank != 2:
        raise ValueError(f"embeddings must be [items, dims], got shape {x.shape}")
    if similarity == "cosine":
        return tf.math.l2_normalize(x, axis=1), None
    return x, tf.reduce_sum(tf.square(x), axis=1)


def _scores(dots, db_norms, query_start, db_start, exclude_self: bool):
    """Similarities from dot products; -inf on each query's own index. Euclidean ranks by
    2 q.x - |x|^2, which orders like -|q - x|^2 for a fixed query."""
    scores = dots if db_norms is None else 2.0 * dots - db_norms[None, :]
    if exclude_self:
        rows = tf.range(tf.shape(dots)[0]) + query_start
        cols = tf.range(tf.shape(dots)[1]) + db_start
        scores = tf.where(rows[:, None] == cols[None, :], tf.constant(-np.inf, scores.dtype), scores)
    return scores


@tf.function(reduce_retracing=True)
def _block_scores(queries, database, db_norms, query_start, db_start, exclude_self: bool):
    """Similarities of a query block to a database block."""
    dots = tf.linalg.matmul(queries, database, transpose_b=True)
    return _scores(dots, db_norms, query_start, db_start, exclude_self)


@tf.function(reduce_retracing=True)
def _merge(best_scores, best_index, scores, db_start, k: int):
    """Top-k of the running best (lower indices) followed by this block's candidates."""
    k_block = tf.minimum(k, tf.shape(scores)[1])
    block_scores, block_index = tf.math.top_k(scores, k=k_block, sorted=True)
    all_scores = tf.concat([best_scores, block_scores], axis=1)
    all_index = tf.concat([best_index, block_index + db_start], axis=1)
    k_out = tf.minimum(k, tf.shape(all_scores)[1])
    top_scores, position = tf.math.top_k(all_scores, k=k_out, sorted=True)
    return top_scores, tf.gather(all_index, position, batch_dims=1)


@tf.function(reduce_retracing=True)
def _pair_step(rows_i, rows_j, norms_i, norms_j, start_i, start_j, state_i, state_j, k: int):
    """Blocks i < j of the all-pairs search: one matmul serves i's queries against j's items and,
    transposed, j's queries against i's items."""
    dots = tf.linalg.matmul(rows_i, rows_j, transpose_b=True)
    state_i = _merge(*state_i, _scores(dots, norms_j, start_i, start_j, False), start_j, k)
    state_j = _merge(*state_j, _scores(tf.transpose(dots), norms_i, start_j, start_i, False), start_i, k)
    return state_i, state_j


def all_pairs_top_k(database, db_norms, k: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Every row against every other row (prepared embeddings), using the symmetry of the dot
    products: each off-diagonal block is multiplied once. Every row's running top-k receives the
    database blocks in increasing order, so ties still go to the lower index."""
    n = int(database.shape[0])
    starts = list(range(0, n, block))
    pieces = [database[s:s + block] for s in starts]
    norms = [None if db_norms is None else db_norms[s:s + block] for s in starts]
    offsets = [tf.constant(s, tf.int32) for s in starts]
    states = [(tf.zeros([int(p.shape[0]), 0], tf.float32), tf.zeros([int(p.shape[0]), 0], tf.int32)) for p in pieces]
    for i in range(len(starts)):
        scores = _block_scores(pieces[i], pieces[i], norms[i], offsets[i], offsets[i], True)
        states[i] = _merge(*states[i], scores, offsets[i], k)
        for j in range(i + 1, len(starts)):
            states[i], states[j] = _pair_step(pieces[i], pieces[j], norms[i], norms[j], offsets[i], offsets[j],
                                              states[i], states[j], k)
    return (np.concatenate([state[0].numpy() for state in states]),
            np.concatenate([state[1].numpy() for state in states]))


def _query_block_top_k(query_rows, query_start, database, db_norms, k, blocks, exclude_self):
    n = int(database.shape[0])
    best_scores = tf.zeros([query_rows.shape[0], 0], tf.float32)
    best_index = tf.zeros([query_rows.shape[0], 0], tf.int32)
    for db_start in range(0, n, blocks.database):
        db = database[db_start:db_start + blocks.database]
        norms = None if db_norms is None else db_norms[db_start:db_start + blocks.database]
        offsets = tf.constant(query_start, tf.int32), tf.constant(db_start, tf.int32)
        scores = _block_scores(query_rows, db, norms, *offsets, exclude_self)
        best_scores, best_index = _merge(best_scores, best_index, scores, offsets[1], k)
    return best_scores, best_index


def _top_k_rows(database, db_norms, rows: np.ndarray, k: int, exclude_self: bool, blocks: Blocks):
    out_scores, out_index = [], []
    for start in range(0, rows.size, blocks.queries):
        chunk = rows[start:start + blocks.queries]
        if exclude_self and chunk.size > 1 and not np.all(np.diff(chunk) == 1):
            raise ValueError("query_rows must be increasing and contiguous within blocks when excluding self")
        queries = tf.gather(database, chunk)
        scores, index = _query_block_top_k(queries, int(chunk[0]), database, db_norms, k, blocks, exclude_self)
        out_scores.append(scores.numpy())
        out_index.append(index.numpy())
    return np.concatenate(out_scores), np.concatenate(out_index)


def top_k_neighbors(embeddings, k: int, similarity: str = "cosine", query_rows=None,
                    exclude_self: bool = True, blocks: Blocks = Blocks()) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest items of each query row (default: every row), best first.

    Returns (scores [q, k] float32, indices [q, k] int32). Scores are cosine similarities, or
    2 q.x - |x|^2 for euclidean (the query's own |q|^2 is left out: it does not change the order).
    `query_rows` are indices into `embeddings`; with `exclude_self` a query never returns itself.
    """
    database, db_norms = prepare(embeddings, similarity)
    n = int(database.shape[0])
    k = min(int(k), n - 1 if exclude_self else n)
    rows = np.arange(n) if query_rows is None else np.asarray(query_rows, np.int64).reshape(-1)
    if k < 1 or rows.size == 0:
        return np.zeros((rows.size, 0), np.float32), np.zeros((rows.size, 0), np.int32)
    return _top_k_rows(database, db_norms, rows, k, exclude_self, blocks)


def _query_runs(labels: np.ndarray) -> list[np.ndarray]:
    """Contiguous runs of non-distractor rows (the blocks that are queried)."""
    rows = np.flatnonzero(labels != DISTRACTOR)
    if rows.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(rows) != 1) + 1
    return np.split(rows, breaks)


def recall_at_k(embeddings, labels, ks=(1, 5), similarity: str = "cosine",
                blocks: Blocks = Blocks()) -> dict[str, float]:
    """Recall@K for each K in `ks` (keys `recall_at_<K>`), plus `num_queries`.

    Every non-distractor item queries all other items (distractors included). K larger than the
    number of other items counts every item.
    """
    labels = np.asarray(labels).reshape(-1).astype(np.int64)
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValueError(f"recall_at_k: K values must be >= 1, got {ks}")
    if len(labels) != int(np.shape(embeddings)[0]):
        raise ValueError(f"{np.shape(embeddings)[0]} embeddings but {len(labels)} labels")
    database, db_norms = prepare(embeddings, similarity)
    k_max = min(ks[-1], len(labels) - 1)
    queries = np.flatnonzero(labels != DISTRACTOR) if k_max >= 1 else np.zeros(0, np.int64)
    if 2 * queries.size >= labels.size:  # mostly queries: all pairs, each block product once
        index = all_pairs_top_k(database, db_norms, k_max, blocks.square)[1][queries]
    else:
        index = np.concatenate([_top_k_rows(database, db_norms, run, k_max, True, blocks)[1]
                                for run in _query_runs(labels)] or [np.zeros((0, k_max), np.int32)])
    same = labels[index] == labels[queries][:, None]
    first = np.where(same.any(axis=1), same.argmax(axis=1), np.iinfo(np.int64).max)
    hits = (first[:, None] < np.asarray(ks)[None, :]).sum(axis=0)
    num_queries = int(queries.size)
    results = {f"recall_at_{k}": float(h) / max(num_queries, 1) for k, h in zip(ks, hits)}
    results["num_queries"] = num_queries
    return results

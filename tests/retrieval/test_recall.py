"""Recall@K against a brute-force numpy reference (float64 scores, ties to the lower index)."""

import numpy as np
import pytest

from assembled_cnn.retrieval import Blocks, recall_at_k, top_k_neighbors


def brute_force_ranking(x, similarity):
    x = np.asarray(x, np.float64)
    if similarity == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        scores = x @ x.T
    else:
        scores = -((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(scores, -np.inf)
    n = len(x)
    # sort by descending score, ties to the lower index
    return np.stack([np.lexsort((np.arange(n), -scores[i]))[:n - 1] for i in range(n)])


def brute_force_recall(x, labels, ks, similarity):
    order = brute_force_ranking(x, similarity)
    queries = np.flatnonzero(labels != -1)
    out = {}
    for k in ks:
        hit = [(labels[order[q, :k]] == labels[q]).any() for q in queries]
        out[f"recall_at_{k}"] = float(np.mean(hit))
    return out


SMALL = Blocks(queries=7, database=11, square=9)  # many blocks and merges on a tiny set


@pytest.mark.parametrize("similarity", ["cosine", "euclidean"])
@pytest.mark.parametrize("distractors", [[3, 4, 5, 20, 41], list(range(10, 50))])  # all pairs / query runs
def test_random_embeddings_match_brute_force(similarity, distractors):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8)).astype(np.float32)
    labels = rng.integers(0, 6, 60)
    labels[distractors] = -1  # indexed, never queried
    ks = (1, 2, 5, 10, 16)  # 16 > any class size
    got = recall_at_k(x, labels, ks, similarity, blocks=SMALL)
    want = brute_force_recall(x, labels, ks, similarity)
    assert got["num_queries"] == 60 - len(distractors)
    for key, value in want.items():
        assert got[key] == pytest.approx(value, abs=1e-12), key


@pytest.mark.parametrize("similarity", ["cosine", "euclidean"])
def test_exact_ties_go_to_the_lower_index(similarity):
    # 0/1 vectors with four ones: cosine and squared distances are exact in float32
    rng = np.random.default_rng(1)
    x = np.zeros((40, 6), np.float32)
    for row in x:
        row[rng.choice(6, 4, replace=False)] = 1.0
    labels = rng.integers(0, 5, 40)
    labels[::9] = -1
    _, index = top_k_neighbors(x, 39, similarity, blocks=SMALL)
    np.testing.assert_array_equal(index, brute_force_ranking(x, similarity))
    for blocks in (SMALL, Blocks()):
        got = recall_at_k(x, labels, (1, 3, 39, 100), similarity, blocks=blocks)
        want = brute_force_recall(x, labels, (1, 3, 39, 100), similarity)
        assert {k: got[k] for k in want} == want


def test_query_never_returns_itself_and_distractor_queries_are_skipped():
    x = np.eye(4, dtype=np.float32)
    x[1] = x[0]  # the same vector twice
    scores, index = top_k_neighbors(x, 1)
    assert index[:, 0].tolist() == [1, 0, 0, 0]
    assert scores[0, 0] == pytest.approx(1.0)
    only_distractors = recall_at_k(x, [-1, -1, -1, -1], (1,))
    assert only_distractors["num_queries"] == 0
    assert recall_at_k(x, [0, 0, 1, -1], (1, 2))["recall_at_1"] == pytest.approx(2 / 3)


def test_errors_are_one_line():
    with pytest.raises(ValueError, match="similarity='dot'"):
        recall_at_k(np.zeros((3, 2)), [0, 1, 2], similarity="dot")
    with pytest.raises(ValueError, match="3 embeddings but 2 labels"):
        recall_at_k(np.zeros((3, 2)), [0, 1])

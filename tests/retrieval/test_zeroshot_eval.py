"""--zeroshot_eval end to end on the toy dataset: train, embed the validation split, Recall@K,
best checkpoint by recall@1; the same figures under one and two replicas."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from assembled_cnn.retrieval import recall_at_k
from assembled_cnn.retrieval.evaluate import embedding_model
from assembled_cnn.train.runner import Runner

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "train"))
from trainlib import toy_config, write_toy_dataset  # noqa: E402


@pytest.fixture(scope="module")
def toy_data(tmp_path_factory):
    return write_toy_dataset(tmp_path_factory.mktemp("toy_retrieval"), train=128, validation=48, shards=2)


def retrieval_config(data_dir, model_dir, **run):
    return toy_config(data_dir, model_dir, model={"pool_type": "gem", "embedding_size": 16, "logit_type": "cosine",
                                                  "cosine_scale": 10.0},
                      train={"arc_margin": 0.2, "batch_size": 16},
                      run={"zeroshot_eval": True, "recall_at_k": [2, 4], "eval_similarity": "euclidean",
                           "epochs_between_evals": 0.5, **run})


def test_zeroshot_train_and_eval_keeps_the_best_recall_at_1(toy_data, tmp_path):
    runner = Runner(retrieval_config(toy_data, tmp_path))
    results = runner.train(evaluate=True)
    assert set(results) >= {"recall_at_1", "recall_at_2", "recall_at_4", "num_queries"}
    assert results["num_queries"] == 48 and results["count"] == 48
    best = json.loads((tmp_path / "best" / "best_checkpoints.json").read_text())
    assert best[0]["recall_at_1"] == max(e["recall_at_1"] for e in best) and len(best) == 2
    # the runner's figures are Recall@K of the model's `features` on the validation images
    embedder = embedding_model(runner.model)
    batches = [(embedder(f["image"], training=False).numpy(), t["label"].numpy())
               for f, t in runner.task.build_inputs(False)]
    direct = recall_at_k(np.concatenate([b[0] for b in batches]), np.concatenate([b[1] for b in batches]),
                         (1, 2, 4), "euclidean")
    assert {k: results[k] for k in direct} == direct
    eval_lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [line["recall_at_1"] for line in eval_lines if line["mode"] == "eval"][-1] == results["recall_at_1"]
    runner.close()


TWO_REPLICAS = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, sys.argv[1])
    from test_zeroshot_eval import retrieval_config
    from assembled_cnn.train.runner import Runner
    out = {}
    for strategy in ("off", "mirrored"):
        config = retrieval_config(sys.argv[2], sys.argv[3], distribution_strategy=strategy, mode="eval")
        runner = Runner(config)
        out[strategy] = runner.evaluate_checkpoint()
        out[strategy + "_replicas"] = runner.strategy.num_replicas_in_sync
        runner.close()
    print("RESULT" + json.dumps(out))
""")


def test_recall_is_identical_under_one_and_two_replicas(toy_data, tmp_path):
    runner = Runner(retrieval_config(toy_data, tmp_path, mode="train"))
    runner.train(until_step=2)
    runner.close()
    done = subprocess.run([sys.executable, "-c", TWO_REPLICAS, str(Path(__file__).parent), str(toy_data),
                           str(tmp_path)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.split("RESULT", 1)[1])
    assert (out["off_replicas"], out["mirrored_replicas"]) == (1, 2)
    for key in ("recall_at_1", "recall_at_2", "recall_at_4", "num_queries"):
        assert out["off"][key] == out["mirrored"][key], key

"""The model_dir is the experiment: after one training run, every tool that takes a model_dir
needs nothing but `--model_dir` (plus data paths) and reproduces the run's own evaluation."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "train"))

from trainlib import run_main_classification as main_classification, write_toy_dataset  # noqa: E402

from assembled_cnn.datasets import schema  # noqa: E402
from assembled_cnn.kd import extract_logits  # noqa: E402
from assembled_cnn.robustness import eval_robustness, generate  # noqa: E402


def last_eval(model_dir: Path) -> dict:
    rows = [json.loads(line) for line in open(model_dir / "metrics.jsonl")]
    return [r for r in rows if r["mode"] == "eval"][-1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """2 steps of a tiny resnet18 with EMA: far from converged, so the wrong weights or
    preprocessing would change the numbers."""
    root = tmp_path_factory.mktemp("journey")
    data, model_dir = write_toy_dataset(root / "data"), root / "run"
    done = main_classification(
        "--dataset_name=toy", f"--data_dir={data}", f"--model_dir={model_dir}", "--model=resnet18",
        "--num_filters=8", "--bn_momentum=0.8", "--preprocessing_type=cifar", "--batch_size=32",
        "--train_epochs=0.25", "--base_learning_rate=0.01", "--learning_rate_decay_type=cosine",
        "--ema_decay=0.7", "--mode=train_and_eval", "--epochs_between_evals=1", "--deterministic", "--seed=1",
        f"--export_dir={model_dir / 'export'}")  # recorded: evaluating later must not re-export there
    assert done.returncode == 0, done.stderr[-3000:]
    assert (model_dir / "export" / "saved_model.pb").exists()
    return data, model_dir, last_eval(model_dir)


def test_eval_and_continuous_eval_need_only_the_model_dir(trained):
    _, model_dir, recorded = trained
    for mode in ("--eval_only", "--mode=continuous_eval"):
        out = main_classification(f"--model_dir={model_dir}", mode)
        assert out.returncode == 0, out.stderr[-3000:]
        again = last_eval(model_dir)
        assert again["step"] == recorded["step"] == 2 and 0.3 < recorded["top1"] < 1.0
        assert again["top1"] == recorded["top1"] and again["loss"] == recorded["loss"]  # exactly
        assert "exported" not in out.stdout  # the recorded --export_dir is the training run's, not this one's


def test_a_flag_that_contradicts_the_recording_is_one_line(trained):
    _, model_dir, _ = trained
    for flag, recorded in (("--num_filters=16", "num_filters=8"), ("--model=resnet50", "resnet_size=18"),
                           ("--preprocessing_type=imagenet", "preprocessing_type=cifar")):
        out = main_classification(f"--model_dir={model_dir}", "--eval_only", flag)
        assert out.returncode == 2, out.stderr[-2000:]
        line = out.stderr.strip().splitlines()[-1]
        assert line.startswith("error: ") and flag.split("=")[0] in line and recorded in line, line
        assert "Traceback" not in out.stderr


def test_extract_logits_from_the_model_dir_uses_its_preprocessing_and_ema(trained, tmp_path):
    data, model_dir, recorded = trained
    code = extract_logits.main(["--teacher", str(model_dir), "--data_dir", str(data), "--output_dir",
                                str(tmp_path / "kd"), "--pattern", "validation-*", "--no_progress"])
    assert code == 0
    info = json.loads((tmp_path / "kd" / "kd_info.json").read_text())
    assert info["teacher_top1"] == pytest.approx(recorded["top1"], abs=1e-9)
    assert info["preprocessing"] == "cifar"
    logits, labels = [], []
    for record in tf.data.TFRecordDataset(sorted(str(p) for p in (tmp_path / "kd").glob("validation-*"))):
        parsed = schema.parse_example(record, with_logits=True)
        logits.append(parsed["logits"].numpy())
        labels.append(int(parsed["label"]))
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(np.array(labels), np.stack(logits)))
    assert float(loss) == pytest.approx(recorded["loss"], rel=1e-5)  # the same logits as the run's eval


def test_robustness_from_model_dir_and_its_export_agree_and_the_clean_error_is_the_runs(trained, tmp_path):
    data, model_dir, recorded = trained
    export = tmp_path / "export"
    out = main_classification(f"--model_dir={model_dir}", "--export_only", f"--export_dir={export}")
    assert out.returncode == 0, out.stderr[-3000:]
    sets = tmp_path / "c"
    generate.main(["--data_dir", str(data), "--output_dir", str(sets), "--corruptions", "gaussian_noise",
                   "contrast", "--severities", "1", "3", "--resize", "32", "--crop", "32"])
    results = {}
    for name, source in (("model_dir", ["--model_dir", str(model_dir)]), ("saved", ["--saved_model", str(export)])):
        code = eval_robustness.main([*source, "--data_dir", str(sets), "--clean_data_dir", str(data),
                                     "--output_dir", str(tmp_path / name)])
        assert code == 0
        results[name] = json.loads((tmp_path / name / "mce.json").read_text())["result"]
    one, two = results["model_dir"], results["saved"]
    assert one["severities"] == [1, 3] and sorted(one["ce"]) == ["contrast", "gaussian_noise"]
    assert one["clean_error"] == pytest.approx(1.0 - recorded["top1"], abs=1e-9)  # the runner's top-1
    assert two["clean_error"] == pytest.approx(one["clean_error"], abs=1e-9)
    for name in one["ce"]:  # BN folded in the export: same decisions on every image
        assert np.isclose(one["ce"][name], two["ce"][name], rtol=0, atol=1e-9), name


def test_robustness_says_in_one_line_which_sets_are_missing(trained, tmp_path, capsys):
    data, model_dir, _ = trained
    sets = tmp_path / "c"
    generate.main(["--data_dir", str(data), "--output_dir", str(sets), "--corruptions", "fog",
                   "--severities", "2", "--resize", "32", "--crop", "32"])
    capsys.readouterr()
    code = eval_robustness.main(["--model_dir", str(model_dir), "--data_dir", str(sets),
                                 "--corruptions", "fog", "--severities", "2", "5"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lacks fog/5" in err[0]

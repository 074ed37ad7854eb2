"""A newcomer's mistakes in main_classification.py: one line naming the flag or file, exit 2."""

import shutil
import sys
from pathlib import Path

import pytest
import tensorflow as tf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "train"))

from trainlib import run_main_classification as run_main, toy_config, write_toy_dataset  # noqa: E402

from assembled_cnn.train.runner import Runner, bn_momentum_warning  # noqa: E402


def tiny(data, model_dir, *extra):
    return ["--dataset_name=toy", f"--data_dir={data}", f"--model_dir={model_dir}", "--model=resnet18",
            "--num_filters=8", "--bn_momentum=0.8", "--preprocessing_type=cifar", "--batch_size=32",
            "--max_train_steps=1", "--mode=train", *extra]


def assert_one_line(out, *needles):
    assert out.returncode == 2, out.stderr[-3000:]
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and all(n in last for n in needles), last


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_toy_dataset(tmp_path_factory.mktemp("cli_data"))


@pytest.mark.parametrize("extra,needles", [
    (["--mixup_type=7"], ["--mixup_type=7", "0, 1, 2 or 3"]),
    (["--model=resnet999"], ["unknown model 'resnet999'", "resnet50"]),
    (["--kd_temp=4"], ["--kd_temp=4", "no image/logit", "extract_logits"]),
])
def test_bad_flags(data, tmp_path, extra, needles):
    assert_one_line(run_main(*tiny(data, tmp_path / "m", *extra)), *needles)


def test_missing_data_dir(tmp_path):
    out = run_main("--dataset_name=imagefolder", f"--model_dir={tmp_path}", "--mode=train")
    assert_one_line(out, "--data_dir is required")


def test_a_corrupt_tfrecord_is_named(data, tmp_path):
    broken = tmp_path / "data"
    shutil.copytree(data, broken)
    shard = sorted(broken.glob("train-*"))[1]
    raw = bytearray(shard.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # one flipped byte: a CRC mismatch in the middle of the shard
    shard.write_bytes(bytes(raw))
    out = run_main(*tiny(broken, tmp_path / "m", "--max_train_steps=12"))
    assert_one_line(out, str(shard), "is corrupt after record")


def test_a_model_dir_of_another_architecture(data, tmp_path):
    model_dir = tmp_path / "m"
    assert run_main(*tiny(data, model_dir)).returncode == 0
    assert_one_line(run_main(*tiny(data, model_dir, "--num_filters=16")), "--num_filters=16", "num_filters=8")
    (model_dir / "hparams.json").unlink()  # e.g. a converted checkpoint: only model_config.json says
    assert_one_line(run_main(*tiny(data, model_dir, "--num_filters=16", "--max_train_steps=2")),
                    "holds checkpoints of another network", "num_filters=8 there, 16 now")


def test_debug_shows_the_traceback(data, tmp_path):
    out = run_main(*tiny(data, tmp_path / "m", "--mixup_type=7", "--debug"))
    assert out.returncode != 0 and "Traceback" in out.stderr and "ConfigError" in out.stderr


def test_a_bn_momentum_too_slow_for_the_run_is_warned_with_the_fix(data, tmp_path, capsys):
    message = bn_momentum_warning(0.997, 40)
    assert "hold 89% of their initial values" in message and "--bn_momentum=0.927" in message
    assert "at least 998 steps" in message
    assert bn_momentum_warning(0.9, 40) is None and bn_momentum_warning(0.997, 1000) is None
    for momentum, warned in ((0.997, True), (0.2, False)):  # 0.2**2 = 4 % left: converged enough
        config = toy_config(data, tmp_path / str(momentum), model={"bn_momentum": momentum},
                            train={"max_train_steps": 2}, run={"mode": "train", "op_determinism": False})
        runner = Runner(config)
        runner.train()
        runner.close()
        assert ("warning: --bn_momentum=" in capsys.readouterr().err) == warned
    assert tf.train.latest_checkpoint(str(tmp_path / "0.2")).endswith("ckpt-2")


def test_help_lists_the_flags_people_use_grouped_and_exits_0():
    out = run_main("--help")
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    for heading in ("Experiment:", "Data:", "Model:", "Training:", "Fine-tuning:", "Distribution:"):
        assert heading in text
    assert "--model_dir (-md)" in text and "--bn_momentum" in text and "[default: 32]" in text
    assert "--bigquery_data_set" not in text and "--use_synthetic_data" not in text  # compatibility only
    assert text.index("Experiment:") < text.index("\n  --model_dir") < text.index("Data:") < text.index("\n  --data_dir")

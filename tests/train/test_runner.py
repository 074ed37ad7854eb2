"""The runner end to end on a small dataset: modes, metrics files, best-N, warm start, NaN."""

import json

import numpy as np
import pytest
from absl import flags
from trainlib import toy_config

from assembled_cnn.config import ConfigError
from assembled_cnn.flags import config_from_flags, define_flags
from assembled_cnn.train.runner import Runner, TrainingDivergedError, eval_boundaries
from assembled_cnn.train.summaries import read_metrics


def test_eval_boundaries_follow_cycles_and_fine_eval():
    assert eval_boundaries(100, 10, 3, 1.0) == [30, 60, 90, 100]
    assert eval_boundaries(100, 10, 5, 0.7) == [50, 80, 90, 100]


@pytest.fixture(scope="module")
def trained(toy_data, tmp_path_factory):
    model_dir = tmp_path_factory.mktemp("run")
    config = toy_config(toy_data, model_dir, train={"train_epochs": 4},
                        run={"op_determinism": False, "num_best_ckpt_to_keep": 2, "epochs_between_evals": 2})
    runner = Runner(config)
    results = runner.train(evaluate=True)
    runner.close()
    return model_dir, config, results


def test_train_and_eval_writes_everything_and_learns(trained):
    model_dir, _, results = trained
    assert results["top1"] >= 0.9  # the toy classes are bright bands at 4 heights
    for name in ("hparams.json", "model_config.json", "metrics.jsonl", "eval_results.json", "checkpoint"):
        assert (model_dir / name).exists(), name
    assert list((model_dir / "train").glob("events.out.tfevents.*"))
    assert list((model_dir / "eval").glob("events.out.tfevents.*"))
    evals = read_metrics(str(model_dir), "eval")
    assert [e["step"] for e in evals] == [16, 32]
    train_rows = read_metrics(str(model_dir), "train")
    assert train_rows[0]["learning_rate"] > train_rows[-1]["learning_rate"]
    best = json.loads((model_dir / "best" / "best_checkpoints.json").read_text())
    assert len(best) == 2 and best[0]["top1"] >= best[1]["top1"]
    assert all(list((model_dir / "best").glob(e["checkpoint"] + ".index")) for e in best)


def test_eval_only_reproduces_the_final_metrics_exactly(trained):
    model_dir, config, _ = trained
    logged = read_metrics(str(model_dir), "eval")[-1]
    config.run.mode = "eval"
    runner = Runner(config)
    again = runner.evaluate_checkpoint()
    runner.close()
    for key in ("top1", "top5", "mean_per_class", "ece", "loss"):
        assert again[key] == logged[key], key


def test_warm_start_from_original_tf1_checkpoint(toy_data, tmp_path, tf1_fixtures):
    config = toy_config(toy_data, tmp_path, train={"max_train_steps": 1},
                        model={"resnet_version": 2, "use_sk_block": True, "anti_alias_type": "sconv",
                               "anti_alias_filter_size": 3, "resnet_size": 50, "num_filters": 16},
                        run={"op_determinism": False,
                             "pretrained_model_checkpoint_path": str(tf1_fixtures / "assemble_resnet50_w16")})
    runner = Runner(config)
    runner.restore_or_initialize()
    report = json.loads((tmp_path / "warm_start.json").read_text())
    assert report["format"] == "tf1" and len(report["restored"]) == 496 - 2 - 2 * 95
    assert "resnet_model/dense/kernel" in report["not_restored"]
    assert all("moving_" in n or "/dense/" in n for n in report["not_restored"])
    import tensorflow as tf
    stored = tf.train.load_checkpoint(str(tf1_fixtures / "assemble_resnet50_w16"))
    np.testing.assert_array_equal(runner.model.get_layer("stem_conv").kernel.numpy(),
                                  stored.get_tensor("resnet_model/stage0/conv2d/kernel"))
    assert runner.model.get_layer("logits").kernel.shape == (512, 4)
    runner.close()


def test_warm_start_from_our_checkpoint_restores_all_but_the_head(trained, toy_data, tmp_path):
    source_dir, _, _ = trained
    config = toy_config(toy_data, tmp_path, run={"op_determinism": False,
                                                 "pretrained_model_checkpoint_path": str(source_dir),
                                                 "warm_start_bn_stats": True})
    runner = Runner(config)
    runner.restore_or_initialize()
    report = json.loads((tmp_path / "warm_start.json").read_text())
    assert report["format"] == "tf2"
    assert sorted(report["not_restored"]) == ["logits/bias", "logits/kernel"]
    runner.close()


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(toy_data, tmp_path):
    import tensorflow as tf

    run = {"op_determinism": False, "save_checkpoints_steps": 1, "log_every_n_steps": 1, "mode": "train"}
    good = Runner(toy_config(toy_data, tmp_path, train={"max_train_steps": 2}, run=run))
    good.train()
    good.close()
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-2")
    exploding = toy_config(toy_data, tmp_path, train={"base_learning_rate": 1e9, "learning_rate_decay_type": "fixed",
                                                      "max_train_steps": 8}, run=run)
    runner = Runner(exploding)  # resumes from ckpt-2, then diverges
    with pytest.raises(TrainingDivergedError, match=r"last finite checkpoint .*ckpt-\d+ is kept"):
        runner.train()
    runner.close()
    latest = tf.train.latest_checkpoint(str(tmp_path))
    assert 2 <= int(latest.rsplit("-", 1)[1]) < 8
    reader = tf.train.load_checkpoint(latest)
    values = [reader.get_tensor(n) for n, _ in tf.train.list_variables(latest) if n.startswith(("model/", "optimizer/"))]
    assert len(values) > 100 and all(np.all(np.isfinite(v)) for v in values if v.dtype.kind == "f")


def parse(argv, model_dir="/nonexistent/run"):
    fv = flags.FlagValues()
    define_flags(fv)
    fv(["prog", *([f"--md={model_dir}"] if model_dir else []), *argv])
    return fv


def test_model_dir_is_required():
    with pytest.raises(ConfigError, match="--model_dir is required"):
        config_from_flags(parse(["--dataset_name=toy"], model_dir=None))


def test_flags_translate_to_config_with_original_names_and_aliases(toy_data):
    fv = parse(["--dataset_name=toy", f"--dd={toy_data}", "--rv=2", "--rs=50", "--use_sk_block",
                "--anti_alias_type=sconv", "--anti_alias_filter_size=3", "--blr=0.4", "--lrdt=cosine",
                "--mixup_type=1", "--lblsm=0.1", "--drblkp=0.9,0.7", "--wd=1e-4", "--eval_only",
                "--lr_multipliers=stem=0.1,head=10", "--pmcp=/x"])
    config = config_from_flags(fv)
    assert (config.model.resnet_version, config.model.use_sk_block, config.model.num_classes) == (2, True, 4)
    assert (config.train.base_learning_rate, config.train.dropblock_kp) == (0.4, [0.9, 0.7])
    assert config.run.mode == "eval" and config.run.pretrained_model_checkpoint_path == "/x"
    assert config.train.lr_multipliers == {"stem": 0.1, "head": 10.0}


@pytest.mark.parametrize("argv,message", [
    (["--eval_only", "--export_only"], "contradict"),
    (["--eval_only", "--mode=train"], "contradicts"),
    (["--cls_loss_type=hinge"], "cls_loss_type='hinge'"),
    (["--lrdt=linear"], "learning_rate_decay_type"),
    (["--lr_multipliers=head"], "group=value"),
])
def test_contradictory_or_invalid_flags_are_clear_errors(toy_data, argv, message):
    fv = parse(["--dataset_name=toy", f"--data_dir={toy_data}", *argv])
    with pytest.raises(ConfigError, match=message):
        config_from_flags(fv)


def test_unknown_dataset_names_the_options(tmp_path):
    fv = parse(["--dataset_name=nosuch", f"--data_dir={tmp_path}"])
    with pytest.raises(KeyError, match="Known names"):
        config_from_flags(fv)


def test_import_exactness_options_are_flags(toy_data):
    config = config_from_flags(parse(["--dataset_name=toy", f"--dd={toy_data}", "--model=resnet50d",
                                      "--stem_pool_padding=symmetric", "--conv_padding=same",
                                      "--noresnet_d_stride1_pool"]))
    assert (config.model.stem_pool_padding, config.model.conv_padding) == ("symmetric", "same")
    assert config.model.resnet_d_stride1_pool is False and config.model.use_resnet_d is True

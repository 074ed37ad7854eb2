"""What a command prints: no TensorFlow start-up noise on CPU, log lines above the progress bars,
one worker's console in a multi-worker run."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "train"))

from trainlib import write_toy_dataset  # noqa: E402

from assembled_cnn.train.strategy import is_chief_task  # noqa: E402
from assembled_cnn.utils.quiet_tf import HARMLESS, is_harmless, wants_quiet, without_harmless_lines  # noqa: E402

NOISE = ("All log messages before absl::InitializeLog()", "oneDNN custom operations are on",
         "Could not find cuda drivers on your machine", "failed call to cuInit", "cpu_feature_guard")


def user_env(**extra):
    """The environment of a user who set no TF_CPP_MIN_LOG_LEVEL; this machine has no GPU."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return {**env, "CUDA_VISIBLE_DEVICES": "", "PYTHONUNBUFFERED": "1", **extra}


def run_python(*args, **kwargs):
    return subprocess.run([sys.executable, *args], cwd=REPO, env=user_env(), capture_output=True, text=True,
                          timeout=600, **kwargs)


def rendered_lines(output: str) -> list[str]:
    """What a terminal shows of each line: the text after its last carriage return."""
    return [line.rsplit("\r", 1)[-1] for line in output.split("\n")]


@pytest.fixture(scope="module")
def training_output(tmp_path_factory):
    """A tiny training run's stdout and stderr as one terminal would interleave them."""
    root = tmp_path_factory.mktemp("cli_output")
    data = write_toy_dataset(root / "data")
    args = ["main_classification.py", "--dataset_name=toy", f"--data_dir={data}", f"--model_dir={root / 'run'}",
            "--model=resnet18", "--num_filters=8", "--bn_momentum=0.8", "--preprocessing_type=cifar",
            "--batch_size=32", "--max_train_steps=2", "--log_every_n_steps=1"]
    out = subprocess.run([sys.executable, *args], cwd=REPO, env=user_env(), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:]
    return out.stdout


def test_a_training_run_on_cpu_prints_no_tensorflow_start_up_noise(training_output):
    for needle in NOISE:
        assert needle not in training_output, needle


def test_log_lines_are_written_above_the_progress_bar(training_output):
    lines = rendered_lines(training_output)
    evals = [line for line in training_output.split("\n") if "eval at step 2:" in line]
    assert evals, training_output[-2000:]
    assert any("train:" in line for line in training_output.split("\n")), "the training bar was drawn"
    for needle in ("eval at step 2:", "final: "):
        shown = [line for line in lines if needle in line]
        assert shown and all(line.startswith(needle) for line in shown), (needle, shown)


def test_a_command_line_tool_prints_no_start_up_noise():
    out = run_python("-m", "assembled_cnn.transfer.study", "--models", "m")
    assert out.returncode == 2
    assert "the following arguments are required" in out.stderr
    assert not any(needle in out.stderr for needle in NOISE), out.stderr


def test_debug_keeps_tensorflows_own_output_and_a_users_log_level_is_respected():
    assert wants_quiet(["prog"], {})
    assert not wants_quiet(["prog", "--debug"], {})
    assert not wants_quiet(["prog", "--debug=true"], {})
    assert wants_quiet(["prog", "--debug=false"], {})
    assert not wants_quiet(["prog"], {"TF_CPP_MIN_LOG_LEVEL": "0"})


def test_only_the_known_harmless_lines_are_dropped():
    data = (b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
            b"I0000 00:00:1.1  1 port.cc:153] oneDNN custom operations are on. You may see ...\n"
            b"E0000 00:00:1.2  1 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error\n"
            b"E0000 00:00:1.3  1 some_op.cc:9] a real error mentioning cuInit\n"
            b"UserWarning: \xff not utf-8\n"
            b"no newline at the end")
    assert without_harmless_lines(data) == (b"E0000 00:00:1.3  1 some_op.cc:9] a real error mentioning cuInit\n"
                                            b"UserWarning: \xff not utf-8\nno newline at the end")
    assert is_harmless("I0000 1 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU will not be used.")
    assert not is_harmless("Could not find the file you asked for")
    assert len(HARMLESS) >= 4


def test_other_lines_written_while_tensorflow_starts_are_replayed():
    script = textwrap.dedent("""
        import os, sys
        from assembled_cnn.utils.quiet_tf import harmless_stderr_lines_dropped
        with harmless_stderr_lines_dropped():
            os.write(2, b"I0000 1 port.cc:153] oneDNN custom operations are on. ...\\n")
            os.write(2, b"something unexpected from C++\\n")
            print("a Python warning", file=sys.stderr)
            import tensorflow as tf
            tf.config.list_physical_devices()
        print("after", file=sys.stderr)
    """)
    out = run_python("-c", script)
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    assert lines[:2] == ["something unexpected from C++", "a Python warning"], out.stderr
    assert lines[-1] == "after"
    assert not any(needle in out.stderr for needle in NOISE), out.stderr


def test_the_console_routes_prints_and_logs_above_bars_and_drops_stdout_on_other_workers():
    script = textwrap.dedent("""
        import sys
        from absl import flags, logging
        from tqdm import tqdm
        from assembled_cnn.utils.console import console_output
        flags.FLAGS(["prog"])
        chief = sys.argv[1] == "chief"
        with console_output(chief=chief):
            with tqdm(total=3, desc="train") as bar:
                bar.update(1)
                print("eval at step 1")
                logging.warning("a warning")
                logging.info("an info line")
                print("to stderr", file=sys.stderr)
                bar.update(2)
            print("no newline", end="")
    """)
    for role in ("chief", "worker"):
        out = subprocess.run([sys.executable, "-c", script, role], cwd=REPO, env=user_env(), text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        assert out.returncode == 0, out.stdout
        lines = rendered_lines(out.stdout)
        assert ("eval at step 1" in lines) == (role == "chief"), out.stdout
        assert "to stderr" in lines, out.stdout
        warning = [line for line in lines if "a warning" in line]
        assert warning and not any("train:" in line for line in warning), out.stdout
        assert not any("an info line" in line for line in lines) or role == "chief"
        assert lines[-1] == ("no newline" if role == "chief" else ""), out.stdout


@pytest.mark.parametrize("tf_config,chief", [
    (None, True),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}', True),
    ('{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}', False),
    ('{"cluster": {"chief": ["c:0"], "worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}', False),
    ('{"cluster": {"chief": ["c:0"], "worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}', True),
])
def test_the_chief_is_known_from_tf_config(tf_config, chief):
    assert is_chief_task(tf_config) is chief

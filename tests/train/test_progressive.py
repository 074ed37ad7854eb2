"""Progressive resizing (--progressive_sizes): which size each step trains at, that the runner
switches its input there (also after a resume), and the one-line errors."""

import pytest
from trainlib import toy_config

from assembled_cnn.config import ConfigError
from assembled_cnn.train import progressive
from assembled_cnn.train.runner import Runner


def phases_of(total, sizes, until=0.5):
    config = toy_config("/tmp", "/tmp/m", data={"progressive_sizes": sizes, "progressive_until": until})
    return progressive.size_phases(total, config.data)


def test_listed_sizes_share_the_first_part_of_the_run_equally():
    phases = phases_of(100, [16, 24])
    assert phases == [(0, 16), (25, 24), (50, None)]
    assert [progressive.size_at(phases, s) for s in (0, 24, 25, 49, 50, 99)] == [16, 16, 24, 24, None, None]
    assert progressive.phase_starts(phases) == {25, 50}
    assert phases_of(10, [16], until=0.8) == [(0, 16), (8, None)]
    assert phases_of(10, []) == [(0, None)]
    assert phases_of(2, [16, 20, 24], until=0.5) == [(0, 20), (1, None)]  # empty phases are dropped


def spy_sizes(runner):
    """Record the training size each input pipeline the runner builds is made for."""
    sizes, build = [], runner.task.build_inputs

    def recording(is_training, *args, **kwargs):
        dataset = build(is_training, *args, **kwargs)
        if is_training:
            sizes.append(dataset.element_spec[0]["image"].shape[1])
        return dataset
    runner.task.build_inputs = recording
    return sizes


def test_runner_trains_the_small_phase_then_the_full_size_and_resumes_in_the_right_phase(toy_data, tmp_path):
    overrides = dict(data={"progressive_sizes": [16], "progressive_until": 0.5, "deterministic": False},
                     train={"max_train_steps": 4}, run={"mode": "train", "op_determinism": False})
    runner = Runner(toy_config(toy_data, tmp_path, **overrides))
    sizes = spy_sizes(runner)
    runner.train(until_step=3)
    assert runner.step == 3
    assert sizes == [16, 32]  # the toy preset trains at 32 px; the switch is at step 2
    runner.close()
    resumed = Runner(toy_config(toy_data, tmp_path, **overrides))
    sizes = spy_sizes(resumed)
    resumed.train()
    assert resumed.step == 4 and sizes == [32]
    resumed.close()


def test_bad_progressive_settings_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="progressive_until"):
        toy_config(tmp_path, tmp_path, data={"progressive_sizes": [16], "progressive_until": 1.0}).validate()
    with pytest.raises(ConfigError, match="progressive_sizes.*resnet_version=2"):
        toy_config(tmp_path, tmp_path, data={"progressive_sizes": [16]},
                    model={"resnet_version": 2, "resnet_size": 50}).validate()

"""`python -m assembled_cnn.tools.import_weights`: a PyTorch file becomes a loadable model_dir."""

import json

import numpy as np
from test_torchvision_resnet import CLASSES, WIDTH, _model, _random_torchvision_state_dict
from torch_files import write_zip

from assembled_cnn.experiment import load_experiment
from assembled_cnn.model_dir import restore_model
from assembled_cnn.tools.import_weights import main
from assembled_cnn.weights.torch_import import load_torch_weights


def test_import_writes_a_model_dir(tmp_path):
    sd = _random_torchvision_state_dict(18, np.random.default_rng(5))
    source, labels, model_dir = tmp_path / "r18.pth", tmp_path / "labels.txt", tmp_path / "run"
    write_zip(source, sd)
    labels.write_text("\n".join(f"class {i}" for i in range(CLASSES)))
    assert main(["--source", str(source), "--model", "resnet18", "--model_dir", str(model_dir),
                 "--num_filters", str(WIDTH), "--num_classes", str(CLASSES), "--stem_pool_padding", "symmetric",
                 "--label_map", str(labels), "--preprocessing_type", "imagenet_64"]) == 0
    direct = _model(18)
    load_torch_weights(direct, sd)
    images = np.random.default_rng(6).uniform(-2, 2, (2, 64, 64, 3)).astype(np.float32)
    np.testing.assert_array_equal(restore_model(str(model_dir))(images, training=False).numpy(),
                                  direct(images, training=False).numpy())
    report = json.loads((model_dir / "import_report.json").read_text())
    assert not report["missing"] and not report["unexpected"] and not report["notes"]
    assert ["conv1.weight", "stem_conv/kernel", [7, 7, 3, WIDTH]] in report["assigned"]
    assert json.loads((model_dir / "config.json").read_text()) == {"preprocessing_type": "imagenet_64"}
    experiment = load_experiment(str(model_dir))  # what eval, robustness, KD and transfer tools load
    assert experiment.preprocess.name == "imagenet_64" and experiment.class_names[2] == "class 2"
    assert json.loads((model_dir / "dataset_info.json").read_text())["label_map"]["2"] == "class 2"


def test_errors_are_reported_not_raised(tmp_path, capsys):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x80\x02junk")
    assert main(["--source", str(junk), "--model", "resnet18", "--model_dir", str(tmp_path / "out")]) == 2
    assert main(["--source", str(tmp_path / "none.pth"), "--model_dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("error: ") for line in err)
    assert not (tmp_path / "out").exists()

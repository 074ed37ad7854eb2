"""TFLite float / int8 and ONNX exports of the demo's network (tiny width, briefly trained on real
Fashion-MNIST): the export check, int8 top-1 agreement, predict on every format, one-line errors."""

import json
import os

import pytest

from assembled_cnn import export, predict
from deploy_testlib import make_run

pytest.importorskip("tf2onnx")
pytest.importorskip("onnxruntime")

FORMATS = ("tflite", "tflite_int8", "onnx")  # the SavedModel: tests/test_export.py
NUM_CHECK = 128  # real Fashion-MNIST test images; int8 is calibrated on the next 200


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def exports(run, tmp_path_factory):
    """Every format through the CLI, with its exit status and export_check.json."""
    model_dir, _ = run
    root = tmp_path_factory.mktemp("exports")
    result = {}
    for fmt in FORMATS:
        path = str(root / fmt)
        status = export.main(["--model_dir", model_dir, "--export_dir", path, "--format", fmt,
                              "--num_check_images", str(NUM_CHECK)])
        with open(os.path.join(path, "export_check.json")) as handle:
            result[fmt] = (path, status, json.load(handle))
    return result


@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_float_exports_match_keras(exports, fmt):
    path, status, check = exports[fmt]
    assert status == 0 and check["passed"] and check["format"] == fmt
    assert check["num_images"] == NUM_CHECK and check["max_rel_diff_logits"] <= 1e-4
    assert check["top1_agreement"] == 1.0


def test_int8_agrees_with_float_on_real_images(exports, run):
    path, status, check = exports["tflite_int8"]
    if not run[1]:
        pytest.skip("Fashion-MNIST could not be fetched: synthetic images only")
    assert status == 0 and check["format"] == "tflite_int8"
    assert check["top1_agreement"] >= 0.95
    assert {"keras_top1_accuracy", "export_top1_accuracy", "accuracy_drop"} <= set(check)
    info = json.load(open(os.path.join(path, "export_info.json")))
    assert info["calibration_images"] == 200 and info["preprocessing"]["eval_size"] == 32
    assert info["class_names"][0] == "T-shirt/top"


def test_predict_prints_the_same_top5_for_every_format(run, exports, tmp_path, capsys):
    """TFLite and ONNX print what the model_dir prints (the folded Keras model, i.e. the
    network the SavedModel serves), probabilities to the 4 decimals shown."""
    from PIL import Image
    from transfer_testlib import load_fashion_mnist

    _, (images, _), _ = load_fashion_mnist(0, 3)
    paths = []
    for index, pixels in enumerate(images):
        paths.append(str(tmp_path / f"{index}.png"))
        Image.fromarray(pixels).save(paths[-1])
    assert predict.main(["--model_dir", run[0], *paths]) == 0
    outputs = {"keras": capsys.readouterr().out}
    for fmt in ("tflite", "onnx"):
        assert predict.main(["--export", exports[fmt][0], *paths]) == 0
        outputs[fmt] = capsys.readouterr().out
    assert outputs["tflite"] == outputs["keras"] == outputs["onnx"]
    assert "T-shirt/top" in outputs["onnx"] or "Trouser" in outputs["onnx"]
    tflite_file = os.path.join(exports["tflite"][0], "model.tflite")
    results = predict.predict_files(paths, saved_model=tflite_file)
    assert [len(r.top) for r in results] == [5, 5, 5]


def test_int8_without_data_is_a_one_line_error(run, tmp_path, capsys):
    model_dir, _ = run
    hparams = json.load(open(os.path.join(model_dir, "hparams.json")))
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in os.listdir(model_dir):
        if name != "hparams.json":
            os.symlink(os.path.join(model_dir, name), bare / name)
    status = export.main(["--model_dir", str(bare), "--export_dir", str(tmp_path / "e"),
                          "--format", "tflite_int8", "--preprocessing_type", "cifar"])
    error = capsys.readouterr().err
    assert status == 2 and error.count("\n") == 1 and "--data_dir" in error
    assert hparams["data"]["data_dir"]  # the run itself records its data


def test_onnx_input_is_named_as_export_info_says_and_tf2onnx_logs_no_deprecation_notices(caplog):
    """to_onnx converts the frozen graph (whose input tensor is `images:0`) and renames the input;
    tf2onnx's TF1 calls would log deprecation notices on every export."""
    import logging

    import numpy as np
    import onnxruntime

    from assembled_cnn.deploy import convert, zoo

    model = zoo.tiny_preset("resnet18", 32)
    images = np.random.RandomState(0).rand(4, 32, 32, 3).astype("float32")
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        blob = convert.to_onnx(model, (32, 32, 3))
    assert not [r for r in caplog.records if "deprecated" in r.getMessage()]
    session = onnxruntime.InferenceSession(blob, providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == [convert.INPUT_NAME]
    logits = session.run(None, {convert.INPUT_NAME: images})[0]
    np.testing.assert_allclose(logits, model(images, training=False).numpy(), rtol=1e-4, atol=1e-5)

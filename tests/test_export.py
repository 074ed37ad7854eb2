"""SavedModel export: both signatures reproduce the Keras model, atomic writes, overwrite refusal."""

import io
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorflow.core.protobuf import saved_model_pb2

from assembled_cnn import export
from assembled_cnn.model_dir import save_model_checkpoint, save_model_config
from assembled_cnn.nets import build_model, model_info
from assembled_cnn.preprocessing import get_preset, preprocess_image

NUM_CLASSES = 4
SIZE = 32
PRESET = f"imagenet_{SIZE}"
CLASS_NAMES = ["cat", "dog", "fox", "owl"]


def _encode(array: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def _photo(height: int, width: int, seed: int) -> np.ndarray:
    """A smooth gradient with noise: compresses like a photo, not like random bytes."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (height + width)], -1)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


def _randomize_batchnorm_statistics(model) -> None:
    """Non-default BN statistics: a fresh model or `training=True` would give other logits."""
    rng = np.random.default_rng(0)
    for weight in model.non_trainable_weights:
        shape = tuple(weight.shape)
        if "moving_mean" in weight.path:
            weight.assign(rng.normal(0.0, 0.2, shape).astype(np.float32))
        elif "moving_variance" in weight.path:
            weight.assign(rng.uniform(0.5, 2.0, shape).astype(np.float32))


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    model_dir = str(tmp_path_factory.mktemp("model_dir"))
    model = build_model("resnet18", num_filters=8, num_classes=NUM_CLASSES, input_size=SIZE)
    _randomize_batchnorm_statistics(model)
    save_model_config(model_dir, model_info(model).config)
    save_model_checkpoint(model_dir, model, step=7)
    return model, model_dir


@pytest.fixture(scope="module")
def exported(tiny_model, tmp_path_factory):
    """Exported through the CLI with a dataset_info.json label map."""
    _, model_dir = tiny_model
    root = tmp_path_factory.mktemp("export")
    label_map = root / "dataset_info.json"
    label_map.write_text(json.dumps({"num_classes": NUM_CLASSES,
                                     "label_map": dict(enumerate(CLASS_NAMES))}))
    export_dir = str(root / "served")
    assert export.main(["--model_dir", model_dir, "--export_dir", export_dir,
                        "--preprocessing_type", PRESET, "--label_map", str(label_map)]) == 0
    return export_dir, tf.saved_model.load(export_dir)


def test_signatures_and_outputs(exported):
    _, loaded = exported
    assert {"serving_default", "serving_float", "serving_bytes"} <= set(loaded.signatures)
    outputs = loaded.signatures["serving_float"](images=tf.zeros([3, SIZE, SIZE, 3]))
    assert outputs["logits"].dtype == tf.float32 and outputs["logits"].shape == (3, NUM_CLASSES)
    assert outputs["classes"].dtype == tf.int64 and outputs["classes"].shape == (3,)
    assert outputs["top5_classes"].shape == (3, NUM_CLASSES)  # K < 5: all classes, ranked
    np.testing.assert_allclose(outputs["probabilities"].numpy().sum(-1), 1.0, rtol=1e-5)
    names = outputs["class_names"].numpy().astype(str)
    assert list(names) == [CLASS_NAMES[i] for i in outputs["classes"].numpy()]
    assert outputs["top5_class_names"].shape == (3, NUM_CLASSES)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_bytes_signature_matches_keras_on_eval_preprocessing(tiny_model, exported, fmt):
    model, _ = tiny_model
    _, loaded = exported
    encoded = [_encode(_photo(45, 61, seed), fmt) for seed in (0, 1)]
    preset = get_preset(PRESET)
    images = tf.stack([preprocess_image(tf.constant(b), False, preset) for b in encoded])
    expected = model(images, training=False).numpy()
    served = loaded.signatures["serving_bytes"](image_bytes=tf.constant(encoded))
    np.testing.assert_allclose(served["logits"].numpy(), expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(served["classes"].numpy(), expected.argmax(-1))


def test_float_signatures_and_call_match_keras(tiny_model, exported):
    model, _ = tiny_model
    _, loaded = exported
    images = tf.random.stateless_normal([2, SIZE, SIZE, 3], seed=[3, 4]) * 60.0
    expected = model(images, training=False).numpy()
    for name in ("serving_default", "serving_float"):
        logits = loaded.signatures[name](images=images)["logits"].numpy()
        np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(loaded(images).numpy(), expected, rtol=1e-4, atol=1e-4)


def test_export_info_records_config_and_preprocessing(tiny_model, exported):
    model, model_dir = tiny_model
    export_dir, _ = exported
    info = export.load_export_info(export_dir)
    assert info["model_config"] == model_info(model).config.to_dict()
    assert info["preprocessing_type"] == PRESET
    assert info["preprocessing"]["eval_size"] == SIZE
    assert info["input_shape"] == [SIZE, SIZE, 3]
    assert info["class_names"] == CLASS_NAMES
    assert info["batch_norm_folded"] is True  # served BN-folded, yet equal logits (test above)
    assert info["source"]["model_dir"] == os.path.abspath(model_dir)
    assert info["source"]["checkpoint"].endswith("ckpt-7")


def test_refuses_non_empty_dir_and_overwrites_when_asked(tiny_model, tmp_path):
    model, _ = tiny_model
    target = tmp_path / "served"
    target.mkdir()
    (target / "keep.txt").write_text("precious")
    preset = get_preset(PRESET)
    with pytest.raises(export.ExportError, match="not empty.*overwrite"):
        export.export_saved_model(model, str(target), preset)
    assert (target / "keep.txt").read_text() == "precious"
    export.export_saved_model(model, str(target), preset, class_names=None, overwrite=True)
    assert not (target / "keep.txt").exists()
    assert export.load_export_info(str(target))["class_names"] is None
    assert sorted(os.listdir(tmp_path)) == ["served"]  # no temp or backup dirs left behind


def test_size_mismatch_names_the_flag(tiny_model, tmp_path):
    model, _ = tiny_model
    with pytest.raises(export.ExportError, match="--preprocessing_type=imagenet_32"):
        export.export_saved_model(model, str(tmp_path / "e"), get_preset("imagenet"))
    with pytest.raises(export.ExportError, match="3 class names"):
        export.export_saved_model(model, str(tmp_path / "e"), get_preset(PRESET), ["a", "b", "c"])
    assert not (tmp_path / "e").exists()


def test_cli_reports_missing_model_dir(tmp_path, capsys):
    code = export.main(["--model_dir", str(tmp_path / "nope"), "--export_dir", str(tmp_path / "e")])
    assert code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "nope does not exist" in error


def test_load_class_names_formats(tmp_path):
    info = tmp_path / "dataset_info.json"  # ImageNet style: label 0 is the background class
    info.write_text(json.dumps({"label_map": {"1": "tench", "2": "goldfish"}}))
    assert export.load_class_names(str(info), 3) == ["0", "tench", "goldfish"]
    listed = tmp_path / "names.json"
    listed.write_text(json.dumps(["a", "b"]))
    assert export.load_class_names(str(listed)) == ["a", "b"]
    text = tmp_path / "labels.txt"
    text.write_text("x\ny\n\n")
    assert export.load_class_names(str(text), 2) == ["x", "y"]
    with pytest.raises(ValueError, match="names class 2 but the model has 2"):
        export.load_class_names(str(info), 2)
    with pytest.raises(FileNotFoundError, match="missing.json"):
        export.load_class_names(str(tmp_path / "missing.json"))


@pytest.mark.slow
def test_assemble_resnet_exports_with_all_tweaks(tmp_path):
    """Big-Little + SK + anti-aliasing + DropBlock survive the SavedModel round trip."""
    model = build_model("assemble_resnet50", num_filters=8, num_classes=3, input_size=64)
    _randomize_batchnorm_statistics(model)
    preset = get_preset("imagenet_64")
    loaded = tf.saved_model.load(export.export_saved_model(model, str(tmp_path / "e"), preset))
    encoded = _encode(_photo(80, 70, 5), "JPEG")
    image = preprocess_image(tf.constant(encoded), False, preset)[tf.newaxis]
    expected = model(image, training=False).numpy()
    served = loaded.signatures["serving_bytes"](image_bytes=tf.constant([encoded]))["logits"]
    np.testing.assert_allclose(served.numpy(), expected, rtol=1e-4, atol=1e-4)
    assert loaded.signatures["serving_default"](images=image)["top5_classes"].shape == (1, 3)
    # the SavedModel holds variables and functions, not the ~400 Keras layers (walking them made
    # saving twice as slow), and the network was traced once for all the signatures
    graph = saved_model_pb2.SavedModel.FromString(open(tmp_path / "e" / "saved_model.pb", "rb").read())
    assert len(graph.meta_graphs[0].object_graph_def.nodes) < len(model.layers) / 1.5
    assert len([f for f in graph.meta_graphs[0].graph_def.library.function
                if f.signature.name.startswith("__inference__logits_and_embedding")]) == 1


def test_preprocessing_without_a_run_prefers_what_a_converter_recorded(tiny_model, tmp_path):
    """No hparams.json: --preprocessing_type, else config.json's preset, else imagenet_N."""
    from assembled_cnn.experiment import choose_preprocess

    model, _ = tiny_model
    assert choose_preprocess(None, model, None, str(tmp_path)).name == PRESET  # fixed 32 px input
    (tmp_path / "config.json").write_text(json.dumps({"data": {"preprocessing_type": "imagenet_32a"}}))
    assert choose_preprocess(None, model, None, str(tmp_path)).name == "imagenet_32a"
    assert choose_preprocess(None, model, "imagenet_32", str(tmp_path)).name == "imagenet_32"
    (tmp_path / "config.json").write_text("not json")
    assert choose_preprocess(None, model, None, str(tmp_path)).name == PRESET

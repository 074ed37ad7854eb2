"""Every teacher spec (model_dir, tf1:, SavedModel, Keras) gives the same float32 logits."""

import numpy as np
import pytest
import tensorflow as tf

from assembled_cnn.kd import TeacherError, load_teacher, parse_hparams
from assembled_cnn.model_dir import save_model_checkpoint, save_model_config
from assembled_cnn.nets import build_model, model_info
from assembled_cnn.nets.tf1_checkpoint import tf1_variable_map

IMAGES = np.random.default_rng(3).normal(0, 50, (3, 32, 32, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def model():
    tf.keras.utils.set_random_seed(2)
    return build_model("resnet18", num_filters=8, num_classes=10, input_size=32)


@pytest.fixture(scope="module")
def reference(model):
    return np.asarray(model(IMAGES, training=False))


def write_tf1_checkpoint(model, prefix: str) -> None:
    """A checkpoint with the original TF1 variable names (what the TF1 code wrote)."""
    mapping = tf1_variable_map(model)
    names = sorted(mapping)
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.convert_to_tensor(mapping[n][1]) for n in names])


class Serving(tf.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    @tf.function(input_signature=[tf.TensorSpec([None, 32, 32, 3], tf.float32, name="images")])
    def serve(self, images):
        logits = self.net(images, training=False)
        return {"probabilities": tf.nn.softmax(logits), "logits": logits}


def test_model_dir_and_keras_teachers(model, reference, tmp_path):
    save_model_config(str(tmp_path), model_info(model).config)
    save_model_checkpoint(str(tmp_path), model)
    from_dir = load_teacher(str(tmp_path))
    assert from_dir.kind == "model_dir"
    np.testing.assert_allclose(from_dir(IMAGES).numpy(), reference, rtol=1e-5, atol=1e-5)
    direct = load_teacher(model)
    half = direct(tf.constant(IMAGES, tf.float16))
    assert half.dtype == tf.float32 and half.shape == (3, 10)


def test_tf1_checkpoint_teacher(model, reference, tmp_path):
    prefix = str(tmp_path / "model.ckpt-7")
    write_tf1_checkpoint(model, prefix)
    teacher = load_teacher(f"tf1:{prefix}", teacher_model="resnet18", num_classes=10,
                           hparams=parse_hparams("num_filters=8,input_size=32"))
    assert teacher.kind == "tf1" and "resnet18" in teacher.description
    np.testing.assert_allclose(teacher(IMAGES).numpy(), reference, rtol=1e-5, atol=1e-5)
    with pytest.raises(TeacherError, match="--teacher_model"):
        load_teacher(f"tf1:{prefix}")


def test_saved_model_teacher_picks_the_float_signature_and_logits(model, reference, tmp_path):
    module = Serving(model)
    tf.saved_model.save(module, str(tmp_path), signatures={"serving_default": module.serve})
    teacher = load_teacher(str(tmp_path))
    assert teacher.kind == "saved_model" and "serving_default:logits" in teacher.description
    np.testing.assert_allclose(teacher(IMAGES).numpy(), reference, rtol=1e-5, atol=1e-5)
    with pytest.raises(TeacherError, match="--teacher_output_key"):
        load_teacher(str(tmp_path), output_key="scores")
    with pytest.raises(TeacherError, match="--teacher_signature"):
        load_teacher(str(tmp_path), signature="serving_bytes")


def test_hparams_parsing_and_bad_specs(tmp_path):
    assert parse_hparams("use_se_block=true, num_filters=32,bn_momentum=0.9") == {
        "use_se_block": True, "num_filters": 32, "bn_momentum": 0.9}
    assert parse_hparams(None) == {}
    with pytest.raises(TeacherError, match="valid names"):
        parse_hparams("filters=3")
    with pytest.raises(TeacherError, match="true/false"):
        parse_hparams("use_se_block=maybe")
    with pytest.raises(TeacherError, match="neither a model_dir"):
        load_teacher(str(tmp_path))

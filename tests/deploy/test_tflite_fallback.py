"""A TFLite model that XNNPACK refuses still runs, on TFLite's reference kernels, with a note."""

import numpy as np
import tensorflow as tf

from assembled_cnn.deploy import runtime


def tiny_tflite(path) -> str:
    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    def double_plus_one(x):
        return {"logits": 2.0 * x + 1.0}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([double_plus_one.get_concrete_function()])
    path.write_bytes(converter.convert())
    return str(path)


def test_an_xnnpack_refusal_falls_back_to_the_reference_kernels(tmp_path, monkeypatch, capsys):
    model_path = tiny_tflite(tmp_path / "model.tflite")
    real_interpreter = runtime._tflite_interpreter
    made = []

    class RefusedByXnnpack:
        def __init__(self, inner):
            self.inner = inner

        def allocate_tensors(self):
            raise RuntimeError("failed to create XNNPACK runtime\nNode number 3 (TfLiteXNNPackDelegate) failed")

        def __getattr__(self, name):
            return getattr(self.inner, name)

    def interpreter(path, threads, default_delegates=True):
        made.append(default_delegates)
        inner = real_interpreter(path, threads, default_delegates)
        return RefusedByXnnpack(inner) if default_delegates else inner

    monkeypatch.setattr(runtime, "_tflite_interpreter", interpreter)
    logits, quantized = runtime._tflite_logits(model_path, 1)
    images = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_allclose(logits(images), 2 * images + 1)
    assert made == [True, False] and not quantized
    note = capsys.readouterr().err.strip().splitlines()
    assert len(note) == 1 and "XNNPACK cannot run" in note[0] and "reference kernels" in note[0]


def test_other_runtime_errors_are_not_hidden(tmp_path, monkeypatch):
    model_path = tiny_tflite(tmp_path / "model.tflite")
    real_interpreter = runtime._tflite_interpreter

    class Broken:
        def __init__(self, inner):
            self.inner = inner

        def allocate_tensors(self):
            raise RuntimeError("tensor 7 has a bad shape")

        def __getattr__(self, name):
            return getattr(self.inner, name)

    monkeypatch.setattr(runtime, "_tflite_interpreter", lambda p, t, d=True: Broken(real_interpreter(p, t, d)))
    logits, _ = runtime._tflite_logits(model_path, 1)
    try:
        logits(np.zeros((1, 4), np.float32))
    except RuntimeError as error:
        assert "bad shape" in str(error)
    else:
        raise AssertionError("the RuntimeError was swallowed")

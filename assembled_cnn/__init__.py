"""assembled-cnn: the Assemble-ResNet toolkit on TensorFlow 2 + Keras 3.

The public API is imported lazily so that `import assembled_cnn.datasets` (for example in a
dataset-conversion worker process) does not pay for building the model zoo. Run as a command
(`python -m assembled_cnn.<tool>`), the package first imports TensorFlow without its harmless
CUDA/oneDNN start-up lines (`assembled_cnn.utils.quiet_tf`).
"""

import sys

__version__ = "0.1.0"

if sys.argv[:1] == ["-m"]:  # `python -m assembled_cnn.<tool>`: its package is imported first
    from assembled_cnn.utils.quiet_tf import import_tensorflow_quietly

    import_tensorflow_quietly()

_LAZY = {
    "build_model": "assembled_cnn.nets.registry",
    "list_models": "assembled_cnn.nets.registry",
    "model_config": "assembled_cnn.nets.registry",
    "load_tf1_checkpoint": "assembled_cnn.nets.tf1_checkpoint",
    "load_torch_weights": "assembled_cnn.weights.torch_import",
    "fold_batch_norm": "assembled_cnn.nets.fold",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'assembled_cnn' has no attribute {name!r}")


__all__ = sorted(_LAZY)

"""Which Keras backend runs the model zoo, and TensorFlow only where it is that backend.

The layers are written with `keras.ops` so that the networks also build, train and infer under
Keras's torch and JAX backends. The reason is practical: the GPU machine lent to this project has
PyTorch and JAX but no TensorFlow, and a TensorFlow wheel with its CUDA libraries (GBs) cannot be
carried to it. TF-only kernels (the fused BN, the CPU-tuned conv paths, replica all-reduce) stay
and are used whenever the backend is TensorFlow, which is what the toolkit itself runs on.
"""

from __future__ import annotations

import keras


def is_tensorflow() -> bool:
    return keras.backend.backend() == "tensorflow"


def tensorflow():
    """The `tensorflow` module under the TensorFlow backend, else None (it may not be installed)."""
    if not is_tensorflow():
        return None
    import tensorflow

    return tensorflow

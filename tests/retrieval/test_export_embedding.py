"""The SavedModel export serves the retrieval embedding (`features`) beside the logits."""

import numpy as np
import tensorflow as tf

from assembled_cnn import export
from assembled_cnn.nets import build_model
from assembled_cnn.preprocessing import get_preset
from assembled_cnn.retrieval.evaluate import embedding_model


def test_serving_signatures_return_the_embedding(tmp_path):
    model = build_model("resnet18", num_classes=3, num_filters=8, pool_type="gem", embedding_size=12,
                        logit_type="cosine", cosine_scale=10.0)
    path = export.export_saved_model(model, str(tmp_path / "served"), get_preset("cifar"))
    loaded = tf.saved_model.load(path)
    images = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    outputs = loaded.signatures["serving_float"](images=tf.constant(images))
    np.testing.assert_allclose(outputs["embedding"].numpy(), embedding_model(model)(images, training=False).numpy(),
                               rtol=1e-4, atol=1e-4)  # served BN-folded: equal up to round-off
    np.testing.assert_allclose(loaded(images).numpy(), outputs["logits"].numpy(), rtol=1e-6)
    assert outputs["embedding"].shape == (2, 12)

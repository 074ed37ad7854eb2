"""Transfer learning tools: fixed features of a frozen network and linear probes on them.

Imported lazily, so that `assembled_cnn.transfer.linear_probe` (scikit-learn only) loads where
TensorFlow is not installed (the GPU runs of scripts/results/gpu).
"""

_LAZY = {
    "extract_features": "assembled_cnn.transfer.features",
    "feature_model": "assembled_cnn.transfer.features",
    **{name: "assembled_cnn.transfer.linear_probe" for name in (
        "DEFAULT_GRID", "KORNBLITH_GRID", "LinearProbe", "Standardizer", "accuracy", "fit_linear_probe",
        "log_odds", "mean_per_class_accuracy")},
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'assembled_cnn.transfer' has no attribute {name!r}")


__all__ = sorted(_LAZY)

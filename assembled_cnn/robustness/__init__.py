"""Corruption robustness: ImageNet-C corruptions, dataset generation, mCE evaluation."""

from assembled_cnn.robustness.corruptions import (CORRUPTIONS, COMMON_CORRUPTIONS,
                                                  EXTRA_CORRUPTIONS, corrupt,
                                                  get_corruption_names)
from assembled_cnn.robustness.mce import ALEXNET_CLEAN_ERROR, ALEXNET_ERRORS, compute_mce


def __getattr__(name):
    if name == "evaluate_corruption_errors":
        from assembled_cnn.robustness.evaluate import evaluate_corruption_errors

        return evaluate_corruption_errors
    raise AttributeError(name)


__all__ = ["CORRUPTIONS", "COMMON_CORRUPTIONS", "EXTRA_CORRUPTIONS", "corrupt",
           "get_corruption_names", "compute_mce", "ALEXNET_ERRORS", "ALEXNET_CLEAN_ERROR",
           "evaluate_corruption_errors"]

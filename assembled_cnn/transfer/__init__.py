"""Transfer learning tools: fixed features of a frozen network and linear probes on them."""

from assembled_cnn.transfer.features import extract_features, feature_model
from assembled_cnn.transfer.linear_probe import (DEFAULT_GRID, KORNBLITH_GRID, LinearProbe,
                                                 Standardizer, accuracy, fit_linear_probe,
                                                 log_odds, mean_per_class_accuracy)

__all__ = ["DEFAULT_GRID", "KORNBLITH_GRID", "LinearProbe", "Standardizer", "accuracy",
           "extract_features", "feature_model", "fit_linear_probe", "log_odds",
           "mean_per_class_accuracy"]

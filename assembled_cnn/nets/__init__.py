"""The model zoo: Assemble-ResNet family and MobileNets in Keras 3 (no training code here)."""

from assembled_cnn.nets.config import ModelConfig, ModelConfigError
from assembled_cnn.nets.fold import fold_batch_norm
from assembled_cnn.nets.model_info import model_info, set_dropblock_keep_prob
from assembled_cnn.nets.registry import build_model, list_models, model_config

__all__ = ["ModelConfig", "ModelConfigError", "build_model", "fold_batch_norm", "list_models", "model_config",
           "model_info", "set_dropblock_keep_prob"]

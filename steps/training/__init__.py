"""Steps of the training pipeline."""

from steps.training.push import push_model_to_huggingface
from steps.training.train import train_model, training_runtime, training_step_operator

__all__ = ["push_model_to_huggingface", "train_model", "training_runtime", "training_step_operator"]

"""Training: configuration, the method registry, and the trainers."""

from diffil.algorithms.config import TrainConfig, resolve_config
from diffil.algorithms.methods import METHODS, get_method

__all__ = ["METHODS", "TrainConfig", "get_method", "resolve_config"]

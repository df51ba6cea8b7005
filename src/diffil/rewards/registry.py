"""Reward models by name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from diffil.rewards.airl import AirlConfig, AirlRewardModel
from diffil.rewards.base import RewardModel, RewardModelConfig
from diffil.rewards.diffail import DiffailConfig, DiffailRewardModel
from diffil.rewards.drail import DrailConfig, DrailRewardModel
from diffil.rewards.gail import GailConfig, GailRewardModel
from diffil.rewards.smiling import SmilingConfig, SmilingRewardModel
from diffil.rewards.wail import WailConfig, WailRewardModel

REWARD_MODELS: dict[str, tuple[type[RewardModel], type[RewardModelConfig]]] = {
    "drail": (DrailRewardModel, DrailConfig),
    "diffail": (DiffailRewardModel, DiffailConfig),
    "gail": (GailRewardModel, GailConfig),
    "airl": (AirlRewardModel, AirlConfig),
    "wail": (WailRewardModel, WailConfig),
}
# non-adversarial reward models: no discriminator, trained by score matching (reference 001)
SCORE_MATCHING_MODELS: dict[str, tuple[type[RewardModel], type[RewardModelConfig]]] = {
    "smiling": (SmilingRewardModel, SmilingConfig),
}


def reward_model_names(score_matching: bool = False) -> list[str]:
    """Names of the adversarial reward models; with ``score_matching`` also the
    score-matching ones (all valid names for :func:`make_reward_model`)."""
    return list(REWARD_MODELS) + (list(SCORE_MATCHING_MODELS) if score_matching else [])


def make_reward_model(
    name: str,
    obs_dim: int,
    act_dim: int,
    config: RewardModelConfig | Mapping[str, Any] | None = None,
) -> RewardModel:
    """Build a reward model by name; ``config`` may be its config dataclass or a dict of fields."""
    key = name.lower()
    models = {**REWARD_MODELS, **SCORE_MATCHING_MODELS}
    if key not in models:
        raise ValueError(f"unknown reward model {name!r}; valid names: {', '.join(models)}")
    model_cls, config_cls = models[key]
    if config is None:
        config = config_cls()
    elif isinstance(config, Mapping):
        config = config_cls(**config)
    elif not isinstance(config, config_cls):
        raise TypeError(
            f"reward model {key!r} takes a {config_cls.__name__}, got {type(config).__name__}"
        )
    return model_cls(obs_dim, act_dim, config)  # type: ignore[call-arg]

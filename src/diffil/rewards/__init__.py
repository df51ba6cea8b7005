"""Learned reward models behind one protocol (:class:`RewardModel`)."""

from diffil.rewards.airl import AirlConfig, AirlRewardModel
from diffil.rewards.base import RewardModel, RewardModelConfig
from diffil.rewards.batch import TransitionBatch, transition_input, transition_input_dim
from diffil.rewards.diffail import DiffailConfig, DiffailRewardModel
from diffil.rewards.diffusion_discriminator import (
    DiffusionDiscriminator,
    DiffusionDiscriminatorConfig,
)
from diffil.rewards.discriminator import (
    REWARD_TYPES,
    DiscriminatorConfig,
    DiscriminatorRewardModel,
    RewardType,
    reward_from_d,
    reward_from_logits,
)
from diffil.rewards.drail import AGENT_LABEL, EXPERT_LABEL, DrailConfig, DrailRewardModel
from diffil.rewards.gail import GailConfig, GailRewardModel
from diffil.rewards.penalties import gradient_penalty
from diffil.rewards.registry import (
    REWARD_MODELS,
    SCORE_MATCHING_MODELS,
    make_reward_model,
    reward_model_names,
)
from diffil.rewards.smiling import SmilingConfig, SmilingRewardModel
from diffil.rewards.wail import WailConfig, WailRewardModel

__all__ = [
    "AGENT_LABEL",
    "EXPERT_LABEL",
    "REWARD_MODELS",
    "REWARD_TYPES",
    "SCORE_MATCHING_MODELS",
    "AirlConfig",
    "AirlRewardModel",
    "DiffailConfig",
    "DiffailRewardModel",
    "DiffusionDiscriminator",
    "DiffusionDiscriminatorConfig",
    "DiscriminatorConfig",
    "DiscriminatorRewardModel",
    "DrailConfig",
    "DrailRewardModel",
    "GailConfig",
    "GailRewardModel",
    "RewardModel",
    "RewardModelConfig",
    "RewardType",
    "SmilingConfig",
    "SmilingRewardModel",
    "TransitionBatch",
    "WailConfig",
    "WailRewardModel",
    "gradient_penalty",
    "make_reward_model",
    "reward_from_d",
    "reward_from_logits",
    "reward_model_names",
    "transition_input",
    "transition_input_dim",
]

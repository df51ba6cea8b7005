"""AIRL: a discriminator with a shaped reward f(s, a, s') = g(s, a) + gamma h(s') - h(s)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from diffil.diffusion.layers import build_mlp
from diffil.rewards.batch import TransitionBatch
from diffil.rewards.discriminator import DiscriminatorConfig, DiscriminatorRewardModel
from diffil.rewards.shaping import minus_log_pi, potential_shaping


@dataclass(kw_only=True)
class AirlConfig(DiscriminatorConfig):
    """AIRL options.

    Attributes:
        gamma: discount used in the potential shaping term.
    """

    gamma: float = 0.99


class AirlRewardModel(DiscriminatorRewardModel):
    """AIRL (Fu et al., 2018): D = exp(f) / (exp(f) + pi(a|s)), i.e. logit = f - log pi(a|s).

    f(s, a, s') = g(s, a) + gamma (1 - done) h(s') - h(s), with MLPs g and h. ``log pi(a|s)``
    comes from ``batch.log_prob`` (the current policy's log-probability of the action); when a
    batch has no ``log_prob``, log pi = 0 is used, so the logit is f itself. With
    ``reward_type="airl"`` the reward is log D - log(1 - D) = f - log pi. ``batch.next_obs`` is
    required. With ``obs_only`` g consumes (s, s') instead of (s, a) and log pi is not used (it
    would read the action), so the logit is f.
    """

    config: AirlConfig
    needs_log_prob = True

    def __init__(self, obs_dim: int, act_dim: int, config: AirlConfig | None = None) -> None:
        super().__init__(obs_dim, act_dim, config or AirlConfig())
        cfg = self.config
        self.g = build_mlp(self.input_dim, 1, cfg.hidden, cfg.activation)
        self.h = build_mlp(obs_dim, 1, cfg.hidden, cfg.activation)
        self._init_optimizer()

    def shaped_reward(self, batch: TransitionBatch) -> Tensor:
        """f(s, a, s') = g(s, a) + gamma (1 - done) h(s') - h(s), shape (B,)."""
        g = self.g(self.model_input(batch)).squeeze(-1)
        return g + potential_shaping(self.h, batch, self.config.gamma)

    def logits(self, batch: TransitionBatch, *, generator: torch.Generator | None = None) -> Tensor:
        """f - log pi(a|s) (log pi = 0 when ``batch.log_prob`` is None)."""
        return minus_log_pi(self.shaped_reward(batch), batch, self.config.obs_only)

"""WAIL: a Wasserstein critic trained with a gradient penalty (WGAN-GP)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from diffil.diffusion.layers import build_mlp
from diffil.diffusion.rng import GeneratorLike
from diffil.rewards.base import RewardModel, RewardModelConfig
from diffil.rewards.batch import TransitionBatch
from diffil.rewards.normalization import RunningMeanStd
from diffil.rewards.penalties import gradient_penalty


@dataclass(kw_only=True)
class WailConfig(RewardModelConfig):
    """WAIL options.

    Attributes:
        grad_penalty: weight of the gradient penalty (lambda of WGAN-GP).
        normalize_reward: standardise rewards with running statistics of the critic on agent
            batches seen by :meth:`WailRewardModel.update`.
        normalize_momentum: weight of each new batch in those statistics (None = plain average).
    """

    lr: float = 1e-4
    grad_penalty: float = 10.0
    normalize_reward: bool = False
    normalize_momentum: float | None = 0.05


class WailRewardModel(RewardModel):
    """WAIL (Xiao et al., 2019): critic C(s, a) maximising E_expert[C] - E_agent[C].

    The critic is kept about 1-Lipschitz by the WGAN-GP penalty; the reward is C(s, a), or
    (C - mean) / std with running agent-side statistics when ``normalize_reward`` is set.
    """

    config: WailConfig

    def __init__(self, obs_dim: int, act_dim: int, config: WailConfig | None = None) -> None:
        super().__init__(obs_dim, act_dim, config or WailConfig())
        cfg = self.config
        self.critic = build_mlp(self.input_dim, 1, cfg.hidden, cfg.activation)
        self.reward_stats = RunningMeanStd(cfg.normalize_momentum)
        self._init_optimizer()

    def score(self, batch: TransitionBatch) -> Tensor:
        """Critic value C(batch), shape (B,), with gradients."""
        return self.critic(self.model_input(batch)).squeeze(-1)

    def reward(self, batch: TransitionBatch, *, generator: GeneratorLike = None) -> Tensor:
        """Critic value (optionally normalised), shape (B,), without gradients."""
        with torch.no_grad():
            r = self.score(self._prepare(batch))
            return self.reward_stats.normalize(r) if self.config.normalize_reward else r

    def update(self, expert: TransitionBatch, agent: TransitionBatch) -> dict[str, float]:
        """One critic step on E_agent[C] - E_expert[C] + lambda * GP."""
        self.train()
        expert, agent = self._prepare(expert), self._prepare(agent)
        c_e, c_a = self.score(expert), self.score(agent)
        distance = c_e.mean() - c_a.mean()
        gp = gradient_penalty(self.critic, self.model_input(expert), self.model_input(agent))
        loss = -distance + self.config.grad_penalty * gp
        self._optimize(loss)
        self.reward_stats.update(c_a)
        return {
            "loss": float(loss.detach()),
            "wasserstein": float(distance.detach()),
            "gradient_penalty": float(gp.detach()),
            "expert_score": float(c_e.detach().mean()),
            "agent_score": float(c_a.detach().mean()),
        }

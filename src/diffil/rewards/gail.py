"""GAIL: an MLP discriminator over (s, a)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from diffil.diffusion.layers import build_mlp
from diffil.rewards.batch import TransitionBatch
from diffil.rewards.discriminator import DiscriminatorConfig, DiscriminatorRewardModel
from diffil.rewards.penalties import gradient_penalty


@dataclass(kw_only=True)
class GailConfig(DiscriminatorConfig):
    """GAIL options.

    Attributes:
        grad_penalty: weight of an optional WGAN-GP-style penalty on the logit (0 = off).
    """

    grad_penalty: float = 0.0


class GailRewardModel(DiscriminatorRewardModel):
    """GAIL (Ho & Ermon, 2016): D(s, a) = sigmoid(MLP(s, a)), trained with BCE."""

    config: GailConfig

    def __init__(self, obs_dim: int, act_dim: int, config: GailConfig | None = None) -> None:
        super().__init__(obs_dim, act_dim, config or GailConfig())
        cfg = self.config
        self.net = build_mlp(self.input_dim, 1, cfg.hidden, cfg.activation)
        self._init_optimizer()

    def logits(self, batch: TransitionBatch, *, generator: torch.Generator | None = None) -> Tensor:
        """MLP output, shape (B,)."""
        return self.net(self.model_input(batch)).squeeze(-1)

    def regularizer(self, expert: TransitionBatch, agent: TransitionBatch) -> Tensor | None:
        if self.config.grad_penalty <= 0:
            return None
        gp = gradient_penalty(self.net, self.model_input(expert), self.model_input(agent))
        return self.config.grad_penalty * gp

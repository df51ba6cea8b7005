"""Binary discriminators D(s, a) in (0, 1) trained with cross-entropy, and their rewards."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor

from diffil.diffusion.rng import GeneratorLike, as_generator
from diffil.rewards.base import RewardModel, RewardModelConfig
from diffil.rewards.batch import TransitionBatch

RewardType = Literal["airl", "gail", "log_d"]
REWARD_TYPES: tuple[str, ...] = get_args(RewardType)


@dataclass(kw_only=True)
class DiscriminatorConfig(RewardModelConfig):
    """Options of cross-entropy discriminators.

    Attributes:
        reward_type: ``"airl"`` = log D - log(1-D), ``"gail"`` = -log(1-D), ``"log_d"`` = log D.
        max_logit: logits are clamped to [-max_logit, max_logit] before D and the reward are
            computed, so D stays strictly inside (0, 1) and rewards stay finite.
    """

    reward_type: RewardType = "airl"
    max_logit: float = 15.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.reward_type not in REWARD_TYPES:
            raise ValueError(
                f"unknown reward_type {self.reward_type!r}; valid: {', '.join(REWARD_TYPES)}"
            )
        if self.max_logit <= 0:
            raise ValueError(f"max_logit must be > 0, got {self.max_logit}")


def reward_from_logits(logits: Tensor, reward_type: str, max_logit: float = 15.0) -> Tensor:
    """Reward from the logit l = log D - log(1 - D), computed stably and clamped."""
    logits = logits.clamp(-max_logit, max_logit)
    if reward_type == "airl":
        return logits  # Eq. 4 of reference 000: log D - log(1 - D)
    if reward_type == "gail":
        return F.softplus(logits)  # -log(1 - D)
    if reward_type == "log_d":
        return -F.softplus(-logits)  # log D
    raise ValueError(f"unknown reward_type {reward_type!r}; valid: {', '.join(REWARD_TYPES)}")


def reward_from_d(d: Tensor, reward_type: str, max_logit: float = 15.0) -> Tensor:
    """Reward from a probability D in [0, 1] (clamped away from 0 and 1)."""
    eps = torch.finfo(d.dtype).eps
    d = d.clamp(eps, 1.0 - eps)
    return reward_from_logits(torch.log(d) - torch.log1p(-d), reward_type, max_logit)


class DiscriminatorRewardModel(RewardModel):
    """Base for models defined by a logit l(batch) with D = sigmoid(l).

    Training minimises the binary cross-entropy with expert -> 1 and agent -> 0 (Eq. 3 of
    reference 000, the loss shared by GAIL, AIRL, DiffAIL and DRAIL).
    """

    config: DiscriminatorConfig

    @abstractmethod
    def logits(self, batch: TransitionBatch, *, generator: torch.Generator | None = None) -> Tensor:
        """Unclamped logits log D - log(1 - D), shape (B,), with gradients."""

    def regularizer(self, expert: TransitionBatch, agent: TransitionBatch) -> Tensor | None:
        """Extra loss term added in :meth:`update` (e.g. a gradient penalty); None = none."""
        return None

    def discriminator(self, batch: TransitionBatch, *, generator: GeneratorLike = None) -> Tensor:
        """D(batch) strictly in (0, 1), shape (B,), without gradients."""
        with torch.no_grad():
            logits = self.logits(self._prepare(batch), generator=as_generator(generator))
            return torch.sigmoid(logits.clamp(-self.config.max_logit, self.config.max_logit))

    def reward(self, batch: TransitionBatch, *, generator: GeneratorLike = None) -> Tensor:
        """Reward of the configured ``reward_type``, shape (B,), without gradients."""
        with torch.no_grad():
            logits = self.logits(self._prepare(batch), generator=as_generator(generator))
            return reward_from_logits(logits, self.config.reward_type, self.config.max_logit)

    def update(self, expert: TransitionBatch, agent: TransitionBatch) -> dict[str, float]:
        """One BCE step; returns loss, expert/agent accuracy and mean D on each side."""
        self.train()
        expert, agent = self._prepare(expert), self._prepare(agent)
        logit_e = self.logits(expert)
        logit_a = self.logits(agent)
        # Eq. 3 of reference 000: E_expert[-log D] + E_agent[-log(1 - D)] (the patent's text
        # prints -log D in both terms; [0040] makes clear the agent term targets D -> 0)
        loss_e = F.binary_cross_entropy_with_logits(logit_e, torch.ones_like(logit_e))
        loss_a = F.binary_cross_entropy_with_logits(logit_a, torch.zeros_like(logit_a))
        loss = loss_e + loss_a
        metrics: dict[str, float] = {}
        reg = self.regularizer(expert, agent)
        if reg is not None:
            loss = loss + reg
            metrics["regularizer"] = float(reg.detach())
        self._optimize(loss)
        with torch.no_grad():
            d_e, d_a = torch.sigmoid(logit_e), torch.sigmoid(logit_a)
            metrics.update(
                loss=float(loss.detach()),
                expert_loss=float(loss_e.detach()),
                agent_loss=float(loss_a.detach()),
                expert_acc=float((logit_e > 0).float().mean()),
                agent_acc=float((logit_a < 0).float().mean()),
                expert_d=float(d_e.mean()),
                agent_d=float(d_a.mean()),
            )
        return metrics

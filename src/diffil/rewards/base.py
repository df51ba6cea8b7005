"""The ``RewardModel`` protocol every learned reward implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from diffil.diffusion.rng import GeneratorLike
from diffil.rewards.batch import TransitionBatch, transition_input, transition_input_dim


@dataclass(kw_only=True)
class RewardModelConfig:
    """Options common to all reward models.

    Attributes:
        lr: Adam learning rate.
        hidden: hidden widths of the model's MLP(s).
        activation: activation name (``mish``, ``silu``, ``relu``, ``tanh``).
        obs_only: consume (s, s') instead of (s, a).
        max_grad_norm: clip the gradient norm per update (None = no clipping).
    """

    lr: float = 3e-4
    hidden: tuple[int, ...] = (256, 256)
    activation: str = "mish"
    obs_only: bool = False
    max_grad_norm: float | None = None

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        self.hidden = tuple(int(h) for h in self.hidden)


class RewardModel(nn.Module, ABC):
    """A learned reward r(s, a[, s']) trained from expert and agent batches.

    Subclasses build their networks, then call :meth:`_init_optimizer`. ``state_dict()`` holds
    the weights; :meth:`checkpoint` / :meth:`restore` add the optimizer state.
    """

    optimizer: torch.optim.Optimizer
    # True for models whose discriminator needs log pi(a|s) of the current policy (AIRL); the
    # trainer then fills ``TransitionBatch.log_prob``.
    needs_log_prob: bool = False

    def __init__(self, obs_dim: int, act_dim: int, config: RewardModelConfig) -> None:
        super().__init__()
        self.obs_dim = obs_dim
        self.act_dim = act_dim
        self.config = config
        self.input_dim = transition_input_dim(obs_dim, act_dim, config.obs_only)
        self.num_updates = 0

    @abstractmethod
    def reward(self, batch: TransitionBatch, *, generator: GeneratorLike = None) -> Tensor:
        """Rewards of shape (B,), without gradients.

        Stochastic models draw their noise from ``generator`` (a ``torch.Generator`` or an int
        seed) so that equal generators give equal rewards.
        """

    @abstractmethod
    def update(self, expert: TransitionBatch, agent: TransitionBatch) -> dict[str, float]:
        """One optimisation step on an expert and an agent batch; returns scalar metrics."""

    def pretrain(self, sample_expert: Callable[[], TransitionBatch]) -> dict[str, float]:
        """An expert-only training stage before the run starts (SMILING's expert score model);
        ``sample_expert()`` returns a fresh expert batch. Default: nothing to do."""
        return {}

    @property
    def device(self) -> torch.device:
        """Device of the model's parameters."""
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of the model's parameters."""
        return next(self.parameters()).dtype

    def model_input(self, batch: TransitionBatch) -> Tensor:
        """The flat input x of this model: (s, a) or, when obs_only, (s, s')."""
        return transition_input(batch, self.config.obs_only)

    def _prepare(self, batch: TransitionBatch) -> TransitionBatch:
        """The batch on this model's device and dtype."""
        return batch.to(self.device, self.dtype)

    def _init_optimizer(self) -> None:
        self.optimizer = torch.optim.Adam(self.parameters(), lr=self.config.lr)

    def _optimize(self, loss: Tensor) -> None:
        """Backpropagate ``loss`` and take one optimizer step (with optional clipping)."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.max_grad_norm is not None:
            nn.utils.clip_grad_norm_(self.parameters(), self.config.max_grad_norm)
        self.optimizer.step()
        self.num_updates += 1

    def checkpoint(self) -> dict[str, Any]:
        """Everything needed to resume training: weights, optimizer state, update count."""
        return {
            "model": self.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "num_updates": self.num_updates,
        }

    def restore(self, checkpoint: Mapping[str, Any]) -> None:
        """Load a dict made by :meth:`checkpoint`."""
        self.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.num_updates = int(checkpoint.get("num_updates", 0))

"""One gradient step of an action-chunk model, with its optimiser and EMA weights."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from diffil.diffusion.ema import EMA
from diffil.generative.model import ActionChunkModel
from diffil.generative.policy import GenerativePolicy


class ChunkModelLearner:
    """AdamW on :meth:`ActionChunkModel.loss`; deploys the EMA of the weights."""

    def __init__(
        self,
        model: ActionChunkModel,
        learning_rate: float = 1e-3,
        weight_decay: float = 1e-6,
        ema_decay: float | None = None,
    ):
        self.model = model
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=learning_rate, weight_decay=weight_decay
        )
        self.ema = EMA(model, model.config.ema_decay if ema_decay is None else ema_decay)

    def step(self, obs_history: Tensor, actions: Tensor) -> float:
        loss = self.model.loss(obs_history, actions)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.ema.update(self.model)
        return loss.item()

    def policy(self, metadata: dict[str, Any] | None = None, seed: int = 0) -> GenerativePolicy:
        """A deployable policy with a CPU copy of the EMA weights."""
        model = ActionChunkModel.from_spec(self.model.spec)
        model.load_state_dict({k: v.cpu() for k, v in self.ema.averaged.state_dict().items()})
        return GenerativePolicy(model, metadata, seed=seed)

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])


def fit(
    learner: ChunkModelLearner,
    obs_history: Tensor,
    actions: Tensor,
    steps: int,
    batch_size: int = 256,
    seed: int = 0,
) -> list[float]:
    """``steps`` gradient steps on random batches of the given pairs; returns the losses."""
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        idx = torch.randint(0, len(actions), (batch_size,), generator=generator)
        losses.append(learner.step(obs_history[idx], actions[idx]))
    return losses

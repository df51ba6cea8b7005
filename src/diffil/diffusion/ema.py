"""Exponential moving average of a network's weights (the weights diffusion policies deploy)."""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class EMA:
    """Keeps ``averaged`` = decay * averaged + (1 - decay) * weights after every :meth:`update`.

    The decay ramps up as (1 + n) / (10 + n) (capped at ``decay``) so early averages are not
    dominated by the random initialisation.
    """

    def __init__(self, model: nn.Module, decay: float = 0.995) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.averaged = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for avg, new in zip(self.averaged.parameters(), model.parameters(), strict=True):
            avg.lerp_(new.detach(), 1.0 - decay)
        for avg, new in zip(self.averaged.buffers(), model.buffers(), strict=True):
            avg.copy_(new)

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates, "averaged": self.averaged.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.updates = int(state["updates"])
        self.averaged.load_state_dict(state["averaged"])

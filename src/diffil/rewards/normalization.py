"""Normalisation of reward-model inputs and outputs: running mean and variance kept as buffers
(so they are saved in ``state_dict``), and the observation scaling a run recorded."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn


class RunningMeanStd(nn.Module):
    """Streaming mean/variance of a scalar stream.

    With ``momentum=None`` all values weigh equally (parallel merge of Chan et al.); with a
    momentum m in (0, 1] each batch is mixed in with weight m, which tracks a drifting stream
    such as the output of a critic that is still being trained.
    """

    mean: Tensor
    var: Tensor
    count: Tensor

    def __init__(self, momentum: float | None = None) -> None:
        super().__init__()
        if momentum is not None and not 0.0 < momentum <= 1.0:
            raise ValueError(f"momentum must be in (0, 1], got {momentum}")
        self.momentum = momentum
        self.register_buffer("mean", torch.zeros((), dtype=torch.float64))
        self.register_buffer("var", torch.ones((), dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def update(self, x: Tensor) -> None:
        """Fold the values of ``x`` into the statistics."""
        x = x.detach().reshape(-1).to(self.mean.dtype)
        if x.numel() == 0:
            return
        b_mean, b_var, b_count = x.mean(), x.var(unbiased=False), float(x.numel())
        if self.count == 0:
            weight = 1.0
        elif self.momentum is None:
            weight = b_count / float(self.count + b_count)
        else:
            weight = self.momentum
        delta = b_mean - self.mean
        # variance of the two-component mixture with weights (1 - w, w)
        self.var.copy_((1 - weight) * self.var + weight * b_var + weight * (1 - weight) * delta**2)
        self.mean.add_(weight * delta)
        self.count.add_(b_count)

    def normalize(self, x: Tensor, eps: float = 1e-8) -> Tensor:
        """(x - mean) / std in the dtype of ``x``."""
        mean = self.mean.to(x.dtype)
        std = (self.var + eps).sqrt().to(x.dtype)
        return (x - mean) / std


def scale_obs(scaler: Mapping[str, Any] | Any | None, obs: np.ndarray) -> np.ndarray:
    """``(obs - mean) / std`` with a scaler dict ``{"mean", "std"}`` (or an object with those
    attributes, such as the trainer's ``ObservationScaler``); ``obs`` unchanged for None."""
    if scaler is None:
        return obs
    if isinstance(scaler, Mapping):
        mean, std = scaler["mean"], scaler["std"]
    else:
        mean, std = scaler.mean, scaler.std
    mean = np.asarray(mean, dtype=np.float32)
    std = np.maximum(np.asarray(std, dtype=np.float32), 1e-3)  # the trainer's floor
    return (obs - mean) / std

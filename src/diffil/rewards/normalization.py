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


class ObservationScaler:
    """Fixed standardisation of reward-model inputs with the demonstrations' statistics.

    With ``absorbing`` (see :mod:`diffil.rewards.absorbing`) the scaled observation gains a last
    column, 1.0 on rows that stand for the absorbing state (their features are set to 0, the
    demonstrations' mean) and 0.0 on every real state; the reward model is built that one
    column wider. ``mean`` and ``std`` describe the real features only.
    """

    def __init__(self, mean: np.ndarray, std: np.ndarray, absorbing: bool = False):
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.maximum(np.asarray(std, dtype=np.float32), 1e-3)
        self.absorbing = absorbing

    @classmethod
    def fit(cls, obs: np.ndarray, absorbing: bool = False) -> ObservationScaler:
        return cls(obs.mean(axis=0), obs.std(axis=0), absorbing)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ObservationScaler:
        """The inverse of :meth:`to_dict` (files written before ``absorbing`` existed: False)."""
        return cls(data["mean"], data["std"], bool(data.get("absorbing", False)))

    @property
    def width(self) -> int:
        """Width of the scaled observation (one more than the real one with ``absorbing``)."""
        return len(self.mean) + int(self.absorbing)

    def __call__(self, obs: np.ndarray, absorbing: np.ndarray | None = None) -> np.ndarray:
        """Scaled ``obs`` (..., obs_dim); ``absorbing`` (...) marks absorbing-state rows (only
        with ``self.absorbing``; None: all rows are real states)."""
        scaled = (obs - self.mean) / self.std
        if not self.absorbing:
            if absorbing is not None and np.any(absorbing):
                raise ValueError("absorbing rows need a scaler made with absorbing=True")
            return scaled
        flag = np.zeros((*scaled.shape[:-1], 1), dtype=scaled.dtype)
        if absorbing is not None:
            rows = np.asarray(absorbing, dtype=bool)[..., None]
            scaled = np.where(rows, 0.0, scaled).astype(scaled.dtype)
            flag[rows[..., 0], 0] = 1.0
        return np.concatenate([scaled, flag], axis=-1)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"mean": self.mean.tolist(), "std": self.std.tolist()}
        if self.absorbing:
            data["absorbing"] = True
        return data


def scale_obs(scaler: Mapping[str, Any] | ObservationScaler | None, obs: np.ndarray) -> np.ndarray:
    """``(obs - mean) / std`` with a scaler dict (what a run's ``state.json`` records) or an
    :class:`ObservationScaler`, plus the absorbing-state column (0.0: real states) where the run
    learned one; ``obs`` unchanged for None."""
    if scaler is None:
        return obs
    if isinstance(scaler, Mapping):
        scaler = ObservationScaler.from_dict(scaler)
    return scaler(np.asarray(obs, dtype=np.float32))

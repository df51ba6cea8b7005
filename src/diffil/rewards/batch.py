"""The transition batch that reward models consume."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class TransitionBatch:
    """A batch of transitions as float tensors with a leading batch dimension.

    Attributes:
        obs: (B, obs_dim) observations s.
        act: (B, act_dim) actions a; may be None for observation-only models.
        next_obs: (B, obs_dim) next observations s'; needed by AIRL and obs-only models.
        done: (B,) 1.0 where s' is terminal, else 0.0; None means no terminals.
        log_prob: (B,) log pi(a|s) of the current policy; used by AIRL only, optional.
    """

    obs: Tensor
    act: Tensor | None = None
    next_obs: Tensor | None = None
    done: Tensor | None = None
    log_prob: Tensor | None = None

    def __post_init__(self) -> None:
        if self.obs.ndim != 2:
            raise ValueError(f"obs must be 2-D (B, obs_dim), got shape {tuple(self.obs.shape)}")
        n = self.obs.shape[0]
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and value.shape[0] != n:
                raise ValueError(f"{f.name} has {value.shape[0]} rows, obs has {n}")
        for name in ("act", "next_obs"):
            value = getattr(self, name)
            if value is not None and value.ndim != 2:
                raise ValueError(f"{name} must be 2-D, got shape {tuple(value.shape)}")
        for name in ("done", "log_prob"):
            value = getattr(self, name)
            if value is not None and value.numel() != n:
                raise ValueError(f"{name} must hold one value per row, got {tuple(value.shape)}")

    def __len__(self) -> int:
        return int(self.obs.shape[0])

    def to(self, device: torch.device | str, dtype: torch.dtype = torch.float32) -> TransitionBatch:
        """Move every field to ``device`` as ``dtype`` (no copy when already there)."""
        moved: dict[str, Tensor | None] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            moved[f.name] = None if value is None else value.to(device, dtype)
        return replace(self, **moved)

    @classmethod
    def from_numpy(
        cls,
        obs: np.ndarray,
        act: np.ndarray | None = None,
        next_obs: np.ndarray | None = None,
        done: np.ndarray | None = None,
        log_prob: np.ndarray | None = None,
        device: torch.device | str = "cpu",
    ) -> TransitionBatch:
        """Build a float32 batch from numpy arrays."""

        def conv(a: np.ndarray | None) -> Tensor | None:
            if a is None:
                return None
            return torch.as_tensor(np.asarray(a), dtype=torch.float32, device=device)

        obs_t = conv(obs)
        assert obs_t is not None
        return cls(obs_t, conv(act), conv(next_obs), conv(done), conv(log_prob))


def transition_input(batch: TransitionBatch, obs_only: bool = False) -> Tensor:
    """The model input x: concat(s, a), or concat(s, s') when ``obs_only``."""
    if obs_only:
        if batch.next_obs is None:
            raise ValueError("obs_only reward models need batch.next_obs")
        return torch.cat([batch.obs, batch.next_obs], dim=-1)
    if batch.act is None:
        raise ValueError("this reward model needs batch.act (or set obs_only=True)")
    return torch.cat([batch.obs, batch.act], dim=-1)


def transition_input_dim(obs_dim: int, act_dim: int, obs_only: bool = False) -> int:
    """Width of :func:`transition_input`."""
    return 2 * obs_dim if obs_only else obs_dim + act_dim

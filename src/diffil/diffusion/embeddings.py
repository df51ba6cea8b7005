"""Sinusoidal embeddings of (diffusion) time steps."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10_000.0) -> Tensor:
    """Embed time steps ``t`` of shape (B,) into (B, dim) sin/cos features.

    Frequencies are geometric between 1 and 1/max_period (Transformer positional encoding, as
    used for DDPM's time input). Odd ``dim`` is zero-padded by one column.
    """
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    t = t.reshape(-1).float()
    half = dim // 2
    steps = torch.arange(half, device=t.device, dtype=torch.float32) / max(half, 1)
    freqs = torch.exp(-math.log(max_period) * steps)
    args = t[:, None] * freqs[None, :]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2 == 1:
        emb = torch.cat([emb, emb.new_zeros(emb.shape[0], 1)], dim=-1)
    return emb


class SinusoidalEmbedding(nn.Module):
    """Module wrapper of :func:`timestep_embedding` (no parameters)."""

    def __init__(self, dim: int, max_period: float = 10_000.0) -> None:
        super().__init__()
        self.dim = dim
        self.max_period = max_period

    def forward(self, t: Tensor) -> Tensor:
        return timestep_embedding(t, self.dim, self.max_period)

"""Noise-prediction networks eps_theta(x_t, t | condition, label)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch
from torch import Tensor, nn

from diffil.diffusion.embeddings import SinusoidalEmbedding
from diffil.diffusion.layers import build_mlp, make_activation

UNIQUE_T_MIN_ROWS = 64  # smaller batches embed every row (and keep traced graphs plain)


def _exporting() -> bool:
    """True while the network is traced for TorchScript or ONNX (keep the graph plain)."""
    return torch.jit.is_tracing() or torch.jit.is_scripting() or torch.onnx.is_in_onnx_export()


class NoisePredictor(Protocol):
    """What diffusion code needs from a denoiser: predict eps from a noised sample."""

    def __call__(
        self, x_t: Tensor, t: Tensor, cond: Tensor | None = None, label: Tensor | None = None
    ) -> Tensor: ...


class NoisePredictionMLP(nn.Module):
    """MLP predicting the injected noise eps from (x_t, t) and optional conditioning.

    Args:
        x_dim: size of the (flat) sample x.
        cond_dim: size of an optional continuous condition (0 = none).
        num_labels: number of integer class labels embedded with ``nn.Embedding`` (0 = none).
        hidden: hidden widths of the body.
        time_embed_dim: width of the time (and label) embedding.
        activation: ``"mish"`` or ``"silu"`` (or any name in ``layers.ACTIVATIONS``).
    """

    def __init__(
        self,
        x_dim: int,
        cond_dim: int = 0,
        num_labels: int = 0,
        hidden: Sequence[int] = (256, 256),
        time_embed_dim: int = 64,
        activation: str = "mish",
    ) -> None:
        super().__init__()
        self.x_dim = x_dim
        self.cond_dim = cond_dim
        self.num_labels = num_labels
        self.time_features = SinusoidalEmbedding(time_embed_dim)
        self.time_embed = nn.Sequential(
            nn.Linear(time_embed_dim, 2 * time_embed_dim),
            make_activation(activation),
            nn.Linear(2 * time_embed_dim, time_embed_dim),
        )
        self.label_embed = nn.Embedding(num_labels, time_embed_dim) if num_labels > 0 else None
        in_dim = x_dim + time_embed_dim + cond_dim + (time_embed_dim if num_labels > 0 else 0)
        self.body = build_mlp(in_dim, x_dim, hidden, activation)

    def embed_time(self, t: Tensor, dtype: torch.dtype = torch.float32) -> Tensor:
        """Time embeddings (B, time_embed_dim), computed once per distinct t.

        Batches that repeat a few diffusion steps many times (a fixed t grid, as in SMILING's
        reward) would otherwise run the time MLP on every row; the result is the same.
        """
        t = t.reshape(-1)
        if t.numel() >= UNIQUE_T_MIN_ROWS and not _exporting():
            steps, index = torch.unique(t, return_inverse=True)
            if steps.numel() * 2 <= t.numel():
                return self.time_embed(self.time_features(steps).to(dtype))[index]
        return self.time_embed(self.time_features(t).to(dtype))

    def forward(
        self, x_t: Tensor, t: Tensor, cond: Tensor | None = None, label: Tensor | None = None
    ) -> Tensor:
        """Return predicted noise with the shape of ``x_t`` (B, x_dim)."""
        parts = [x_t, self.embed_time(t, x_t.dtype)]
        if self.cond_dim > 0:
            if cond is None:
                raise ValueError("this network needs a condition (cond_dim > 0)")
            parts.append(cond.reshape(cond.shape[0], -1).to(x_t.dtype))
        elif cond is not None:
            raise ValueError("cond given but the network was built with cond_dim=0")
        if self.label_embed is not None:
            if label is None:
                raise ValueError("this network needs an integer label (num_labels > 0)")
            parts.append(self.label_embed(label.reshape(-1).long()))
        elif label is not None:
            raise ValueError("label given but the network was built with num_labels=0")
        return self.body(torch.cat(parts, dim=-1))

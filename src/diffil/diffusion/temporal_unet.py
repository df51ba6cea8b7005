"""A 1-D temporal U-Net: denoises a sequence (B, H, C) along its time axis.

Used for action chunks (reference 002, "action chunking") and, later, Diffuser's state-action
plans (reference 004). Convolutions run over the horizon H with the C features as channels; the
diffusion time (and an optional global condition such as the observation history) enters every
residual block through a FiLM scale and shift.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from diffil.diffusion.embeddings import SinusoidalEmbedding


def _groups(channels: int) -> int:
    return 8 if channels % 8 == 0 else 1


class ResidualTemporalBlock(nn.Module):
    """Two conv + GroupNorm + Mish layers with FiLM conditioning and a residual connection."""

    def __init__(self, c_in: int, c_out: int, embed_dim: int, kernel_size: int = 5) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv1d(c_in, c_out, kernel_size, padding=pad)
        self.norm1 = nn.GroupNorm(_groups(c_out), c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, kernel_size, padding=pad)
        self.norm2 = nn.GroupNorm(_groups(c_out), c_out)
        self.film = nn.Sequential(nn.Mish(), nn.Linear(embed_dim, 2 * c_out))
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = F.mish(self.norm1(self.conv1(x)))
        scale, shift = self.film(emb).unsqueeze(-1).chunk(2, dim=1)
        h = h * (1.0 + scale) + shift
        h = F.mish(self.norm2(self.conv2(h)))
        return h + self.skip(x)


class TemporalUnet1D(nn.Module):
    """eps_theta(x_t, t | cond) for sequences ``x`` of shape (B, H, x_dim).

    ``channels`` are the widths of the resolution levels (each level after the first halves H);
    horizons that are not a multiple of ``2 ** (len(channels) - 1)`` are zero-padded inside and
    cropped on output, so any H works.
    """

    def __init__(
        self,
        x_dim: int,
        cond_dim: int = 0,
        channels: Sequence[int] = (64, 128),
        time_embed_dim: int = 32,
        kernel_size: int = 5,
    ) -> None:
        super().__init__()
        if not channels:
            raise ValueError("channels must name at least one level")
        self.x_dim, self.cond_dim = x_dim, cond_dim
        self.levels = len(channels)
        embed_dim = time_embed_dim
        self.time_embed = nn.Sequential(
            SinusoidalEmbedding(time_embed_dim),
            nn.Linear(time_embed_dim, 4 * time_embed_dim),
            nn.Mish(),
            nn.Linear(4 * time_embed_dim, time_embed_dim),
        )
        if cond_dim > 0:  # the global condition joins the time embedding (FiLM input)
            embed_dim += cond_dim
        widths = [x_dim, *channels]
        self.down = nn.ModuleList()
        for i, (c_in, c_out) in enumerate(itertools.pairwise(widths)):
            last = i == len(channels) - 1
            self.down.append(
                nn.ModuleList(
                    [
                        ResidualTemporalBlock(c_in, c_out, embed_dim, kernel_size),
                        ResidualTemporalBlock(c_out, c_out, embed_dim, kernel_size),
                        nn.Identity() if last else nn.Conv1d(c_out, c_out, 3, stride=2, padding=1),
                    ]
                )
            )
        mid = channels[-1]
        self.mid1 = ResidualTemporalBlock(mid, mid, embed_dim, kernel_size)
        self.mid2 = ResidualTemporalBlock(mid, mid, embed_dim, kernel_size)
        self.up = nn.ModuleList()
        for i in reversed(range(1, len(channels))):
            c_out, c_in = channels[i - 1], channels[i]
            self.up.append(
                nn.ModuleList(
                    [
                        ResidualTemporalBlock(2 * c_in, c_out, embed_dim, kernel_size),
                        ResidualTemporalBlock(c_out, c_out, embed_dim, kernel_size),
                        nn.ConvTranspose1d(c_out, c_out, 4, stride=2, padding=1),
                    ]
                )
            )
        self.final = nn.Sequential(
            nn.Conv1d(channels[0], channels[0], kernel_size, padding=kernel_size // 2),
            nn.Mish(),
            nn.Conv1d(channels[0], x_dim, 1),
        )

    def forward(self, x_t: Tensor, t: Tensor, cond: Tensor | None = None) -> Tensor:
        """Predicted noise (or velocity) with the shape of ``x_t`` (B, H, x_dim)."""
        horizon = x_t.shape[1]
        multiple = 2 ** (self.levels - 1)
        padded = -(-horizon // multiple) * multiple
        x = x_t.transpose(1, 2)  # (B, C, H): convolve along the horizon
        if padded != horizon:
            x = F.pad(x, (0, padded - horizon))
        emb = self.time_embed(t.reshape(-1).to(x.dtype))
        if self.cond_dim > 0:
            if cond is None:
                raise ValueError("this network needs a condition (cond_dim > 0)")
            emb = torch.cat([emb, cond.reshape(cond.shape[0], -1).to(x.dtype)], dim=-1)
        skips = []
        for block1, block2, downsample in self.down:
            x = block2(block1(x, emb), emb)
            skips.append(x)
            x = downsample(x)
        x = self.mid2(self.mid1(x, emb), emb)
        for block1, block2, upsample in self.up:  # deepest level first, skip at the same scale
            x = block2(block1(torch.cat([x, skips.pop()], dim=1), emb), emb)
            x = upsample(x)
        out = self.final(x)[..., :horizon]
        return out.transpose(1, 2)

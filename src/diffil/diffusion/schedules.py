"""DDPM noise schedules and forward noising q(x_t | x_0)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from diffil.diffusion.rng import randint

SCHEDULE_NAMES = ("linear", "cosine", "rectified")


class NoiseSchedule(nn.Module):
    """Discrete variance schedule over ``num_steps`` diffusion steps.

    Time steps are 0-indexed: ``t = 0`` is the least noisy step (DDPM's ``t = 1``) and
    ``t = num_steps - 1`` the noisiest. Buffers move with ``.to(device)``.
    """

    betas: Tensor
    alphas: Tensor
    alphas_cumprod: Tensor
    alphas_cumprod_prev: Tensor

    def __init__(self, betas: Tensor) -> None:
        super().__init__()
        betas = torch.as_tensor(betas, dtype=torch.float64)
        if betas.ndim != 1 or betas.numel() == 0:
            raise ValueError("betas must be a non-empty 1-D tensor")
        if bool(((betas <= 0) | (betas >= 1)).any()):
            raise ValueError("betas must lie in (0, 1)")
        alphas = 1.0 - betas
        # abar_t = prod_{s<=t} alpha_s (DDPM notation, reference 002)
        alphas_cumprod = torch.cumprod(alphas, dim=0)
        alphas_cumprod_prev = torch.cat([alphas_cumprod.new_ones(1), alphas_cumprod[:-1]])
        self.register_buffer("betas", betas.float())
        self.register_buffer("alphas", alphas.float())
        self.register_buffer("alphas_cumprod", alphas_cumprod.float())
        self.register_buffer("alphas_cumprod_prev", alphas_cumprod_prev.float())

    @property
    def num_steps(self) -> int:
        """Number of diffusion steps T."""
        return int(self.betas.shape[0])

    @classmethod
    def linear(
        cls, num_steps: int, beta_start: float = 1e-4, beta_end: float = 0.02
    ) -> NoiseSchedule:
        """DDPM's linear betas; the end points are rescaled by 1000/T so any T reaches noise."""
        _check_steps(num_steps)
        scale = 1000.0 / num_steps
        lo = min(beta_start * scale, 0.999)
        hi = min(beta_end * scale, 0.999)
        return cls(torch.linspace(lo, hi, num_steps, dtype=torch.float64))

    @classmethod
    def cosine(cls, num_steps: int, s: float = 0.008, max_beta: float = 0.999) -> NoiseSchedule:
        """Cosine schedule (Nichol & Dhariwal, 2021): abar(t) = cos^2((t/T + s)/(1 + s) * pi/2)."""
        _check_steps(num_steps)
        steps = torch.arange(num_steps + 1, dtype=torch.float64) / num_steps
        f = torch.cos((steps + s) / (1.0 + s) * math.pi / 2) ** 2
        return cls.from_alphas_cumprod((f / f[0])[1:], max_beta)

    @classmethod
    def rectified(cls, num_steps: int, max_beta: float = 0.999) -> NoiseSchedule:
        """The noise levels of flow matching's linear path x = (1 - s) x0 + s eps, as a DDPM
        schedule: abar = (1 - s)^2 / ((1 - s)^2 + s^2) with s = (t + 1) / T.

        Dividing the path's point by sqrt((1 - s)^2 + s^2) gives the variance-preserving x_t
        with the same signal-to-noise ratio, so a DDPM trained on this schedule sees the noise
        levels a flow-matching model sees (with uniform t, a different loss weighting).
        """
        _check_steps(num_steps)
        s = torch.arange(1, num_steps + 1, dtype=torch.float64) / num_steps
        return cls.from_alphas_cumprod((1.0 - s) ** 2 / ((1.0 - s) ** 2 + s**2), max_beta)

    @classmethod
    def from_alphas_cumprod(cls, abar: Tensor, max_beta: float = 0.999) -> NoiseSchedule:
        """The schedule with cumulative alphas ``abar`` (steps 0..T-1, from abar = 1 before step
        0), betas clipped to [1e-8, ``max_beta``] so the noisiest step stays finite."""
        prev = torch.cat([abar.new_ones(1), abar[:-1]])
        return cls((1.0 - abar / prev).clamp(min=1e-8, max=max_beta))

    def sample_timesteps(
        self,
        n: int,
        *,
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Draw ``n`` time steps uniformly from ``{0, ..., T-1}`` (Algorithm 1 line 3, ref 002)."""
        dev = self.betas.device if device is None else device
        return randint(self.num_steps, (n,), device=dev, generator=generator)

    def q_sample(self, x0: Tensor, t: Tensor | int, eps: Tensor) -> Tensor:
        """Forward noising x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps (Algorithm 1, ref 002)."""
        abar = extract(self.alphas_cumprod, t, x0)
        return abar.sqrt() * x0 + (1.0 - abar).sqrt() * eps


def extract(values: Tensor, t: Tensor | int, like: Tensor) -> Tensor:
    """Gather ``values[t]`` per batch row and reshape to broadcast against ``like``."""
    if not torch.is_tensor(t):
        t = torch.full((like.shape[0],), int(t), device=values.device, dtype=torch.long)
    t = t.to(device=values.device, dtype=torch.long)
    out = values[t].to(dtype=like.dtype)
    return out.reshape(t.shape[0], *([1] * (like.ndim - 1)))


def make_schedule(name: str, num_steps: int) -> NoiseSchedule:
    """Build a schedule by name: ``"linear"``, ``"cosine"`` or ``"rectified"``."""
    if name == "linear":
        return NoiseSchedule.linear(num_steps)
    if name == "cosine":
        return NoiseSchedule.cosine(num_steps)
    if name == "rectified":
        return NoiseSchedule.rectified(num_steps)
    raise ValueError(f"unknown noise schedule {name!r}; valid names: {', '.join(SCHEDULE_NAMES)}")


def _check_steps(num_steps: int) -> None:
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")

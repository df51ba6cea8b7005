"""Conditional flow matching with the linear (rectified) path, and its ODE samplers.

Reference 002, CFM loss: x_t = (1 - t) x_0 + t x_1 with x_0 ~ N(0, I) noise and x_1 data, so the
conditional velocity is u_t = x_1 - x_0 and the loss is E ||v_theta(x_t, t | cond) - u_t||^2.
The ``cosine`` path x_t = cos(pi t / 2) x_0 + sin(pi t / 2) x_1 (variance preserving, the path
of a v-prediction diffusion model in continuous time) is there to compare the two.
Sampling integrates dx/dt = v_theta from t = 0 (noise) to t = 1 (data) in a few steps.
The network sees time as ``t * TIME_SCALE`` so that the sinusoidal embeddings built for integer
diffusion steps resolve it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from diffil.diffusion.rng import rand, randn

Velocity = Callable[[Tensor, Tensor, Tensor | None], Tensor]

TIME_SCALE = 1000.0
INTEGRATORS = ("euler", "midpoint")
PATHS = ("linear", "cosine")


def path_coefficients(path: str, t: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(a, s, da/dt, ds/dt) of the path x_t = a(t) x_1 + s(t) x_0 (x_1 data, x_0 noise) at ``t``.

    ``linear``: a = t, s = 1 - t; ``cosine``: a = sin(pi t/2), s = cos(pi t/2). The conditional
    velocity is u_t = da x_1 + ds x_0.
    """
    if path == "linear":
        one = torch.ones_like(t)
        return t, 1.0 - t, one, -one
    if path == "cosine":
        angle = 0.5 * math.pi * t
        sin, cos = torch.sin(angle), torch.cos(angle)
        return sin, cos, 0.5 * math.pi * cos, -0.5 * math.pi * sin
    raise ValueError(f"unknown path {path!r}; use one of {', '.join(PATHS)}")


def flow_matching_loss(
    velocity: Velocity,
    x1: Tensor,
    cond: Tensor | None = None,
    *,
    generator: torch.Generator | None = None,
    path: str = "linear",
) -> Tensor:
    """Per-sample CFM loss ||v_theta(x_t, t) - u_t||^2 averaged over dims; shape (B,).

    ``path`` ``linear``: u_t = x_1 - x_0; ``cosine``:
    u_t = pi/2 (cos(pi t/2) x_1 - sin(pi t/2) x_0).
    """
    x0 = randn(x1.shape, device=x1.device, dtype=x1.dtype, generator=generator)
    t = rand((x1.shape[0],), device=x1.device, dtype=x1.dtype, generator=generator)
    a, s, da, ds = path_coefficients(path, t.reshape(-1, *([1] * (x1.ndim - 1))))
    x_t = a * x1 + s * x0  # linear: reference 002's CFM path
    target = da * x1 + ds * x0
    pred = velocity(x_t, t * TIME_SCALE, cond)
    return (pred - target).pow(2).reshape(x1.shape[0], -1).mean(dim=1)


def flow_sample(
    velocity: Velocity,
    x0: Tensor,
    cond: Tensor | None = None,
    *,
    sample_steps: int = 10,
    method: str = "euler",
    clip: float | None = None,
) -> Tensor:
    """Integrate dx/dt = v_theta(x, t | cond) from the noise ``x0`` at t = 0 to t = 1.

    ``euler``: x += dt v(x, t); ``midpoint``: x += dt v(x + dt/2 v(x, t), t + dt/2) (two network
    calls per step). Deterministic given ``x0``.
    """
    if method not in INTEGRATORS:
        raise ValueError(f"unknown integrator {method!r}; use one of {', '.join(INTEGRATORS)}")
    if sample_steps < 1:
        raise ValueError(f"sample_steps must be >= 1, got {sample_steps}")
    x = x0
    dt = 1.0 / sample_steps

    def v(x: Tensor, t: float) -> Tensor:
        return velocity(x, torch.full((x.shape[0],), t * TIME_SCALE, device=x.device), cond)

    for i in range(sample_steps):
        t = i * dt
        if method == "euler":
            x = x + dt * v(x, t)
        else:
            x = x + dt * v(x + 0.5 * dt * v(x, t), t + 0.5 * dt)
    return x.clamp(-clip, clip) if clip is not None else x

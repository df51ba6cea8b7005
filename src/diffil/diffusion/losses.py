"""The DDPM denoising loss, per sample."""

from __future__ import annotations

import torch
from torch import Tensor

from diffil.diffusion.networks import NoisePredictor
from diffil.diffusion.parameterization import training_target
from diffil.diffusion.rng import randn
from diffil.diffusion.schedules import NoiseSchedule


def noise_prediction_loss(
    model: NoisePredictor,
    schedule: NoiseSchedule,
    x0: Tensor,
    *,
    t: Tensor | None = None,
    eps: Tensor | None = None,
    cond: Tensor | None = None,
    label: Tensor | None = None,
    generator: torch.Generator | None = None,
    reduction: str = "mean",
    prediction: str = "epsilon",
) -> Tensor:
    """Per-sample ||eps - eps_theta(x_t, t | cond, label)||^2 over the non-batch dims.

    ``prediction`` ``"sample"`` or ``"v_prediction"`` regresses the network on x0 or v instead
    of eps (:mod:`diffil.diffusion.parameterization`).

    ``reduction="sum"`` is the squared norm itself (Eq. 1 of reference 000); ``"mean"`` divides
    it by the number of dims (the usual DDPM training loss). Draws one (t, eps) per row unless
    given. Returns shape (B,).
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    if t is None:
        # Algorithm 1 lines 3-4 of reference 002
        t = schedule.sample_timesteps(x0.shape[0], device=x0.device, generator=generator)
    if eps is None:
        eps = randn(x0.shape, device=x0.device, dtype=x0.dtype, generator=generator)
    x_t = schedule.q_sample(x0, t, eps)
    pred = model(x_t, t, cond=cond, label=label)
    # Algorithm 1 line 5 of reference 002; Eq. 1 of reference 000 when conditioned on a label
    target = training_target(prediction, schedule, x0, eps, t)
    squared = (pred - target).pow(2).reshape(x0.shape[0], -1)
    return squared.sum(dim=1) if reduction == "sum" else squared.mean(dim=1)

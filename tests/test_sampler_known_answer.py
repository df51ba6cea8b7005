"""Known-answer tests of every sampler: an exact denoiser of a 2-D Gaussian mixture.

For data x0 ~ sum_k w_k N(mu_k, s^2 I) the ideal denoiser is known in closed form, so a sampler
fed it must return the mixture itself: its weights, means and spreads. No network is trained, so
a failure here is a sampler (or parameterisation) defect, never a training one.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from diffil.diffusion.flow import TIME_SCALE, flow_matching_loss, flow_sample
from diffil.diffusion.parameterization import PREDICTIONS
from diffil.diffusion.samplers import ddim_sample, ddpm_sample, langevin_sample
from diffil.diffusion.schedules import make_schedule

WEIGHTS = torch.tensor([0.3, 0.7], dtype=torch.float64)
MEANS = torch.tensor([[-0.6, -0.3], [0.5, 0.4]], dtype=torch.float64)
SPREAD = 0.08  # per-coordinate standard deviation of each mode
SAMPLES = 4000
# Stated tolerances: mixture weight, distance of a mode's mean, relative error of its spread.
# Measured with the exact denoiser (4000 samples): DDPM and 20 DDIM or Euler steps keep weights
# within 0.012, means within 0.032 and spreads at 0.78-0.99 of the true one; midpoint and
# Langevin (20 steps per level) within 0.03 and 0.98-1.03. Ten DDIM steps on the linear
# schedule miss a mean by 0.125 (discretisation error of the ODE), so these tests use 20.
WEIGHT_TOL, MEAN_TOL, SPREAD_TOL = 0.04, 0.04, 0.25


def clean_estimate(x: Tensor, scale: float, noise: float) -> Tensor:
    """E[x0 | x] for x = scale * x0 + noise * z with z ~ N(0, I)."""
    x = x.double()
    var = scale**2 * SPREAD**2 + noise**2  # per coordinate, each mode
    log_r = torch.log(WEIGHTS) - ((x[:, None, :] - scale * MEANS) ** 2).sum(-1) / (2 * var)
    r = torch.softmax(log_r, dim=1)  # responsibilities (B, K)
    per_mode = MEANS + (scale * SPREAD**2 / var) * (x[:, None, :] - scale * MEANS)
    return (r[..., None] * per_mode).sum(1)


def exact_diffusion_denoiser(schedule, prediction: str):
    abars = schedule.alphas_cumprod.double()

    def denoiser(x_t: Tensor, t: Tensor, cond: Tensor | None = None) -> Tensor:
        abar = float(abars[int(t[0])])
        a, s = math.sqrt(abar), math.sqrt(1 - abar)
        x0 = clean_estimate(x_t, a, s)
        eps = (x_t.double() - a * x0) / s
        out = {"epsilon": eps, "sample": x0, "v_prediction": a * eps - s * x0}[prediction]
        return out.to(x_t.dtype)

    return denoiser


def exact_velocity(x_t: Tensor, t: Tensor, cond: Tensor | None = None) -> Tensor:
    """E[x1 - x0 | x_t] on the linear path x_t = (1 - t) x0 + t x1 (x0 noise, x1 data)."""
    tau = float(t[0]) / TIME_SCALE
    x1 = clean_estimate(x_t, tau, 1.0 - tau)
    return ((x1 - x_t.double()) / (1.0 - tau)).to(x_t.dtype)


def exact_cosine_velocity(x_t: Tensor, t: Tensor, cond: Tensor | None = None) -> Tensor:
    """E[u_t | x_t] on the cosine path x_t = cos(pi t/2) x0 + sin(pi t/2) x1."""
    angle = 0.5 * math.pi * float(t[0]) / TIME_SCALE
    a, s = math.sin(angle), math.cos(angle)
    x1 = clean_estimate(x_t, a, s)
    x0 = (x_t.double() - a * x1) / s
    return (0.5 * math.pi * (s * x1 - a * x0)).to(x_t.dtype)


def assert_recovers_mixture(x: Tensor) -> None:
    assert torch.isfinite(x).all()
    x = x.double()
    mode = torch.cdist(x, MEANS).argmin(dim=1)
    for k in range(len(WEIGHTS)):
        mine = x[mode == k]
        weight = len(mine) / len(x)
        assert abs(weight - WEIGHTS[k]) < WEIGHT_TOL, (k, weight)
        assert torch.dist(mine.mean(0), MEANS[k]) < MEAN_TOL, (k, mine.mean(0))
        spread = mine.std(0).mean()
        assert abs(spread / SPREAD - 1) < SPREAD_TOL, (k, spread)


def noise(seed: int = 0) -> Tensor:
    return torch.randn(SAMPLES, 2, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("prediction", PREDICTIONS)
@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "langevin"])
@pytest.mark.parametrize("schedule", ["cosine", "linear", "rectified"])
def test_diffusion_samplers_recover_the_mixture(sampler, prediction, schedule):
    sched = make_schedule(schedule, 100)
    denoiser = exact_diffusion_denoiser(sched, prediction)
    gen = torch.Generator().manual_seed(1)
    common = dict(clip=1.0, generator=gen, prediction=prediction)
    with torch.no_grad():
        if sampler == "ddpm":
            x = ddpm_sample(denoiser, sched, noise(), **common)
        elif sampler == "ddim":
            x = ddim_sample(denoiser, sched, noise(), sample_steps=20, **common)
        else:
            x = langevin_sample(denoiser, sched, noise(), steps_per_level=20, **common)
    assert_recovers_mixture(x)


@pytest.mark.parametrize("path", ["linear", "cosine"])
@pytest.mark.parametrize("method", ["euler", "midpoint"])
def test_flow_integrators_recover_the_mixture(method, path):
    velocity = exact_velocity if path == "linear" else exact_cosine_velocity
    with torch.no_grad():
        x = flow_sample(velocity, noise(), sample_steps=20, method=method, clip=1.0)
    assert_recovers_mixture(x)


@pytest.mark.parametrize("path", ["linear", "cosine"])
def test_flow_loss_is_zero_for_the_exact_velocity_of_a_point_mass(path):
    """For data at one point c the velocity is a function of x_t alone: the loss must vanish
    there (the loss's path and the velocity's agree) and not for the other path's velocity."""
    c = torch.tensor([[0.3, -0.5]], dtype=torch.float64)

    def velocity(x_t: Tensor, t: Tensor, cond: Tensor | None, which: str) -> Tensor:
        tau = (t / TIME_SCALE).double()[:, None]
        if which == "linear":
            return (c - x_t) / (1.0 - tau)  # x0 = (x_t - tau c) / (1 - tau); u = c - x0
        a, s = torch.sin(0.5 * math.pi * tau), torch.cos(0.5 * math.pi * tau)
        x0 = (x_t - a * c) / s
        return 0.5 * math.pi * (s * c - a * x0)

    x1 = c.repeat(512, 1)
    gen = torch.Generator().manual_seed(0)
    own = flow_matching_loss(lambda x, t, k: velocity(x, t, k, path), x1, generator=gen, path=path)
    other = "cosine" if path == "linear" else "linear"
    wrong = flow_matching_loss(
        lambda x, t, k: velocity(x, t, k, other), x1, generator=gen, path=path
    )
    assert float(own.max()) < 1e-8
    assert float(wrong.mean()) > 1e-2


def test_a_wrong_parameterisation_is_caught():
    """The test can fail: reading an x0 network's output as eps does not give the mixture."""
    sched = make_schedule("cosine", 100)
    denoiser = exact_diffusion_denoiser(sched, "sample")
    with torch.no_grad():
        x = ddim_sample(denoiser, sched, noise(), sample_steps=10, clip=1.0, prediction="epsilon")
    with pytest.raises(AssertionError):
        assert_recovers_mixture(x)

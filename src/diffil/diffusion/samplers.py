"""Samplers for a trained noise-prediction network eps_theta(x_t, t | cond).

- :func:`ddpm_sample`: ancestral sampling over all T steps (reference 002, Algorithm 2).
- :func:`ddim_sample`: DDIM over a subsequence of the steps (deterministic with ``eta = 0``).
- :func:`langevin_sample`: annealed Langevin dynamics over noise-conditional scores (reference
  002, the NCSN slides), using the same network: score(x, sigma) = -eps_theta / sigma.

Every sampler takes ``denoiser(x_t, t, cond)`` (``t`` a (B,) tensor of step indices), which
predicts eps, x0 or v as ``prediction`` says (:mod:`diffil.diffusion.parameterization`),
the initial noise ``x_T`` (so a caller fixes the randomness by passing it) and an optional
generator for the noise drawn along the way. ``clip`` bounds the predicted clean sample, as
diffusion policies do for actions scaled to [-1, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from diffil.diffusion.parameterization import split_prediction
from diffil.diffusion.rng import randn
from diffil.diffusion.schedules import NoiseSchedule

Denoiser = Callable[[Tensor, Tensor, Tensor | None], Tensor]

SAMPLERS = ("ddpm", "ddim", "langevin")


def _noise_like(x: Tensor, generator: torch.Generator | None) -> Tensor:
    # randn_like keeps the batch size symbolic when the sampler is traced for export
    if generator is None:
        return torch.randn_like(x)
    return randn(x.shape, device=x.device, dtype=x.dtype, generator=generator)


def _steps_tensor(t: int, like: Tensor) -> Tensor:
    return torch.full((like.shape[0],), t, device=like.device, dtype=torch.long)


def _predict_x0(
    x_t: Tensor, output: Tensor, abar: float, clip: float | None, prediction: str = "epsilon"
) -> Tensor:
    # epsilon: x0_hat = (x_t - sqrt(1 - abar) eps) / sqrt(abar), the inverse of q_sample
    x0, _ = split_prediction(prediction, output, x_t, abar)
    return x0.clamp(-clip, clip) if clip is not None else x0


class PosteriorCoefficients:
    """Per-step constants of q(x_{t-1} | x_t, x0) = N(c0_t x0 + ct_t x_t, var_t), as floats
    (tiny 0-d tensor ops would dominate the cost of a small network)."""

    def __init__(self, schedule: NoiseSchedule) -> None:
        abars = schedule.alphas_cumprod.tolist()
        prev = schedule.alphas_cumprod_prev.tolist()
        betas, alphas = schedule.betas.tolist(), schedule.alphas.tolist()
        self.abar = abars
        self.c0 = [math.sqrt(p) * b / (1 - a) for b, a, p in zip(betas, abars, prev, strict=True)]
        self.ct = [
            math.sqrt(al) * (1 - p) / (1 - a) for al, a, p in zip(alphas, abars, prev, strict=True)
        ]
        # the posterior variance beta~_t, DDPM's sigma_t^2
        self.var = [b * (1 - p) / (1 - a) for b, a, p in zip(betas, abars, prev, strict=True)]

    def mean(
        self,
        x_t: Tensor,
        output: Tensor,
        t: int,
        clip: float | None = None,
        prediction: str = "epsilon",
    ) -> Tensor:
        """Posterior mean given x0_hat from the network ``output`` (clipped to ``clip``); x0_hat
        itself at t = 0.

        For an epsilon network without clipping it equals Algorithm 2's 1/sqrt(alpha_t) (x_t -
        beta_t / sqrt(1 - abar_t) eps) (reference 002)."""
        x0 = _predict_x0(x_t, output, self.abar[t], clip, prediction)
        return x0 if t == 0 else self.c0[t] * x0 + self.ct[t] * x_t


@torch.no_grad()
def ddpm_sample(
    denoiser: Denoiser,
    schedule: NoiseSchedule,
    x_T: Tensor,
    cond: Tensor | None = None,
    *,
    clip: float | None = None,
    generator: torch.Generator | None = None,
    prediction: str = "epsilon",
) -> Tensor:
    """Ancestral DDPM sampling (ref. 002, Algorithm 2), with sigma_t^2 the posterior variance,
    written through x0_hat so that ``clip`` can bound it."""
    x = x_T
    posterior = PosteriorCoefficients(schedule)
    for t in reversed(range(schedule.num_steps)):
        output = denoiser(x, _steps_tensor(t, x), cond)
        mean = posterior.mean(x, output, t, clip, prediction)
        x = mean if t == 0 else mean + math.sqrt(posterior.var[t]) * _noise_like(x, generator)
    return x


def ddim_timesteps(num_steps: int, sample_steps: int) -> list[int]:
    """``sample_steps`` evenly spaced step indices of ``{0, ..., T-1}``, noisiest first."""
    if not 1 <= sample_steps <= num_steps:
        raise ValueError(f"sample_steps must be in [1, {num_steps}], got {sample_steps}")
    steps = torch.linspace(0, num_steps - 1, sample_steps).round().long().tolist()
    return sorted(set(steps), reverse=True)


def ddim_sample(
    denoiser: Denoiser,
    schedule: NoiseSchedule,
    x_T: Tensor,
    cond: Tensor | None = None,
    *,
    sample_steps: int = 10,
    eta: float = 0.0,
    clip: float | None = None,
    generator: torch.Generator | None = None,
    prediction: str = "epsilon",
) -> Tensor:
    """DDIM (Song et al., 2021) over ``sample_steps`` of the T steps.

    x_prev = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - s^2) eps_theta + s z, with
    s = eta sqrt((1 - abar_prev) / (1 - abar)) sqrt(1 - abar / abar_prev); eta = 0 is
    deterministic given x_T (and traceable for ONNX export). Gradients flow if enabled.
    """
    x = x_T
    steps = ddim_timesteps(schedule.num_steps, sample_steps)
    abars = schedule.alphas_cumprod.tolist()
    for i, t in enumerate(steps):
        abar = abars[t]
        abar_prev = abars[steps[i + 1]] if i + 1 < len(steps) else 1.0
        x0, eps = split_prediction(prediction, denoiser(x, _steps_tensor(t, x), cond), x, abar)
        if clip is not None:  # keep eps consistent with the clipped x0
            x0 = x0.clamp(-clip, clip)
            eps = (x - math.sqrt(abar) * x0) / math.sqrt(1.0 - abar)
        sigma = eta * math.sqrt((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev))
        x = math.sqrt(abar_prev) * x0 + math.sqrt(max(1.0 - abar_prev - sigma**2, 0.0)) * eps
        if sigma > 0 and i + 1 < len(steps):
            x = x + sigma * _noise_like(x, generator)
    return x


def langevin_levels(schedule: NoiseSchedule, levels: int, sigma_max: float) -> list[int]:
    """DDPM steps whose noise levels sigma_t = sqrt((1 - abar_t) / abar_t) are geometrically
    spaced from min(sigma_max, sigma_{T-1}) down to sigma_0 (NCSN's geometric sequence)."""
    sigmas = ((1 - schedule.alphas_cumprod) / schedule.alphas_cumprod).sqrt()
    high = min(float(sigmas[-1]), sigma_max)
    targets = torch.logspace(
        torch.log10(torch.tensor(high)), torch.log10(sigmas[0].cpu()), levels
    ).to(sigmas.device)
    steps = [int(torch.argmin((sigmas.log() - target.log()).abs())) for target in targets]
    return list(dict.fromkeys(steps))  # noisiest first, without repeats


@torch.no_grad()
def langevin_sample(
    denoiser: Denoiser,
    schedule: NoiseSchedule,
    x_T: Tensor,
    cond: Tensor | None = None,
    *,
    levels: int = 10,
    steps_per_level: int = 5,
    step_size: float = 0.5,
    sigma_max: float = 10.0,
    clip: float | None = None,
    generator: torch.Generator | None = None,
    prediction: str = "epsilon",
) -> Tensor:
    """Annealed Langevin dynamics (NCSN; reference 002) with the DDPM network's scores.

    A DDPM step t is the noise level sigma_t = sqrt((1 - abar_t) / abar_t) of y = x_t /
    sqrt(abar_t) = x0 + sigma_t eps, whose score is -eps_theta(sqrt(abar_t) y, t) / sigma_t.
    Over ``levels`` geometrically spaced levels from ``sigma_max`` (data scaled to [-1, 1]
    needs no more) to the cleanest, ``steps_per_level`` updates
    y <- y + (a / 2) score + sqrt(a) z with a = step_size * sigma^2 (NCSN's
    a_i = epsilon sigma_i^2 / sigma_L^2, with ``step_size`` = epsilon / sigma_L^2); the result
    is denoised once more with Tweedie's formula y + sigma_min^2 score.
    ``x_T`` is standard normal noise; it is scaled to the largest level's spread.
    """
    abars = schedule.alphas_cumprod.tolist()
    ts = langevin_levels(schedule, levels, sigma_max)
    sigmas = [math.sqrt((1 - abars[t]) / abars[t]) for t in ts]

    def score(y: Tensor, t: int, sigma: float) -> Tensor:
        x_t = y * math.sqrt(abars[t])
        _, eps = split_prediction(
            prediction, denoiser(x_t, _steps_tensor(t, y), cond), x_t, abars[t]
        )
        return -eps / sigma

    y = x_T * sigmas[0]
    for t, sigma in zip(ts, sigmas, strict=True):
        a = step_size * sigma**2
        for _ in range(steps_per_level):
            y = y + 0.5 * a * score(y, t, sigma) + math.sqrt(a) * _noise_like(y, generator)
    t, sigma_min = ts[-1], sigmas[-1]
    score_min = score(y, t, sigma_min)
    y = y + sigma_min**2 * score_min  # Tweedie: E[x0 | y]
    return y.clamp(-clip, clip) if clip is not None else y

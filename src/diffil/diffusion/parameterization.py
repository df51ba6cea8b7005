"""What a denoising network predicts, and how its output maps to (x0_hat, eps_hat).

With x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps (reference 002, Algorithm 1), a network can
predict any one of three equivalent targets:

- ``epsilon``: the noise eps (DDPM, reference 002; the DRAIL discriminator's Eq. 1 of 000);
- ``sample``: the clean sample x0;
- ``v_prediction``: v = sqrt(abar_t) eps - sqrt(1 - abar_t) x0 (Salimans & Ho, 2022).

They differ where the noise schedule is extreme. Near the noisiest step of a cosine schedule
abar_t is ~1e-7, and x0_hat = (x_t - sqrt(1 - abar_t) eps_hat) / sqrt(abar_t) multiplies any
error of an epsilon network by ~2,000: a sampler's first x0 estimate is noise, and clipping it to
the action range pushes every sample towards a corner of the box. A ``sample`` or
``v_prediction`` network has no such division (benchmarks/diffusion_policy_diagnosis.py).
"""

from __future__ import annotations

import math

from torch import Tensor

from diffil.diffusion.schedules import NoiseSchedule, extract

PREDICTIONS = ("epsilon", "sample", "v_prediction")


def check_prediction(prediction: str) -> str:
    if prediction not in PREDICTIONS:
        raise ValueError(f"unknown prediction {prediction!r}; use one of {', '.join(PREDICTIONS)}")
    return prediction


def training_target(
    prediction: str, schedule: NoiseSchedule, x0: Tensor, eps: Tensor, t: Tensor | int
) -> Tensor:
    """The regression target of a network predicting ``prediction`` at steps ``t``."""
    check_prediction(prediction)
    if prediction == "epsilon":
        return eps
    if prediction == "sample":
        return x0
    abar = extract(schedule.alphas_cumprod, t, x0)
    return abar.sqrt() * eps - (1.0 - abar).sqrt() * x0


def split_prediction(
    prediction: str, output: Tensor, x_t: Tensor, abar: float | Tensor
) -> tuple[Tensor, Tensor]:
    """(x0_hat, eps_hat) from a network's ``output`` at a step with cumulative alpha ``abar``.

    ``abar`` is a float (samplers, one step for the whole batch) or a tensor broadcasting
    against ``x_t``.
    """
    if isinstance(abar, Tensor):
        a, s = abar.to(x_t.dtype).sqrt(), (1.0 - abar.to(x_t.dtype)).sqrt()
    else:  # plain floats: no tensor ops per sampling step, constants in exported graphs
        a, s = math.sqrt(abar), math.sqrt(1.0 - abar)
    if prediction == "epsilon":
        return (x_t - s * output) / a, output
    if prediction == "sample":
        return output, (x_t - a * output) / s
    if prediction == "v_prediction":
        return a * x_t - s * output, s * x_t + a * output
    raise ValueError(f"unknown prediction {prediction!r}; use one of {', '.join(PREDICTIONS)}")

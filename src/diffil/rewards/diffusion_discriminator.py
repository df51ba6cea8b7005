"""Shared machinery of discriminators built on a diffusion model's denoising loss."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from diffil.diffusion.losses import noise_prediction_loss
from diffil.diffusion.networks import NoisePredictionMLP
from diffil.diffusion.rng import randn
from diffil.diffusion.schedules import SCHEDULE_NAMES, make_schedule
from diffil.rewards.discriminator import DiscriminatorConfig, DiscriminatorRewardModel


@dataclass(kw_only=True)
class DiffusionDiscriminatorConfig(DiscriminatorConfig):
    """Options of diffusion-loss discriminators.

    Attributes:
        num_diffusion_steps: T of the noise schedule.
        schedule: ``"cosine"`` (default; keeps more steps informative than ``"linear"``,
            whose later steps are almost pure noise) or ``"linear"``.
        time_embed_dim: width of the time/label embedding of the denoiser.
        num_draws: number of (t, eps) draws whose losses are averaged per estimate.
        loss_reduction: ``"sum"`` = the squared norm ||eps_phi - eps||^2 of Eq. 1 (reference
            000), ``"mean"`` = that divided by the input width.
    """

    lr: float = 1e-4
    num_diffusion_steps: int = 1000
    schedule: str = "cosine"
    time_embed_dim: int = 64
    num_draws: int = 1
    loss_reduction: str = "sum"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.schedule not in SCHEDULE_NAMES:
            raise ValueError(f"unknown schedule {self.schedule!r}; valid: {SCHEDULE_NAMES}")
        if self.num_draws < 1:
            raise ValueError(f"num_draws must be >= 1, got {self.num_draws}")
        if self.num_diffusion_steps < 1:
            raise ValueError(f"num_diffusion_steps must be >= 1, got {self.num_diffusion_steps}")


class DiffusionDiscriminator(DiscriminatorRewardModel):
    """A denoiser eps_phi(x_t, t [| c]) over x = model_input(batch) plus a noise schedule.

    Subclasses turn :meth:`diffusion_losses` into logits.
    """

    config: DiffusionDiscriminatorConfig

    def __init__(
        self, obs_dim: int, act_dim: int, config: DiffusionDiscriminatorConfig, num_labels: int
    ) -> None:
        super().__init__(obs_dim, act_dim, config)
        self.schedule = make_schedule(config.schedule, config.num_diffusion_steps)
        self.denoiser = NoisePredictionMLP(
            self.input_dim,
            num_labels=num_labels,
            hidden=config.hidden,
            time_embed_dim=config.time_embed_dim,
            activation=config.activation,
        )
        self._init_optimizer()

    def diffusion_losses(
        self,
        x: Tensor,
        labels: Sequence[int] | None = None,
        *,
        shared_noise: bool = True,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Single-step estimates of L_diff(x, c) for each label c, in ONE denoiser call.

        Returns shape (len(labels), B), or (1, B) when ``labels`` is None (unconditional).
        Each estimate averages ``num_draws`` random (t, eps) draws; with ``shared_noise`` all
        labels of a row see the same (t, eps), so their difference has lower variance.
        """
        k, b, dim = self.config.num_draws, x.shape[0], x.shape[1]
        n_lab = 1 if labels is None else len(labels)
        noise_copies = 1 if shared_noise else n_lab
        # Eq. 1 of reference 000: the expectation over t (and eps) is estimated by sampling
        rows = k * noise_copies * b
        t = self.schedule.sample_timesteps(rows, device=x.device, generator=generator)
        eps = randn((rows, dim), device=x.device, dtype=x.dtype, generator=generator)
        t = t.reshape(k, noise_copies, b).expand(k, n_lab, b).reshape(-1)
        eps = eps.reshape(k, noise_copies, b, dim).expand(k, n_lab, b, dim).reshape(-1, dim)
        x_rep = x.expand(k, n_lab, b, dim).reshape(-1, dim)
        label = None
        if labels is not None:
            lab = torch.as_tensor(list(labels), device=x.device, dtype=torch.long)
            label = lab.reshape(1, n_lab, 1).expand(k, n_lab, b).reshape(-1)
        loss = noise_prediction_loss(
            self.denoiser,
            self.schedule,
            x_rep,
            t=t,
            eps=eps,
            label=label,
            reduction=self.config.loss_reduction,
        )
        return loss.reshape(k, n_lab, b).mean(dim=0)

"""DiffAIL: an unconditional denoiser whose loss defines D = exp(-L_diff)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from diffil.rewards.batch import TransitionBatch
from diffil.rewards.diffusion_discriminator import (
    DiffusionDiscriminator,
    DiffusionDiscriminatorConfig,
)


@dataclass(kw_only=True)
class DiffailConfig(DiffusionDiscriminatorConfig):
    """DiffAIL options.

    Attributes:
        min_loss: floor on L_diff so that D = exp(-L) stays below 1.
        loss_reduction: DiffAIL uses the per-dimension mean of the denoising error.
    """

    min_loss: float = 1e-6
    loss_reduction: str = "mean"


class DiffailRewardModel(DiffusionDiscriminator):
    """DiffAIL (Wang et al., 2024): D(s, a) = exp(-L_diff(s, a)), trained with BCE.

    The denoiser is unconditional; the same BCE step as DRAIL trains it through D.
    """

    config: DiffailConfig

    def __init__(self, obs_dim: int, act_dim: int, config: DiffailConfig | None = None) -> None:
        super().__init__(obs_dim, act_dim, config or DiffailConfig(), num_labels=0)

    def logits(self, batch: TransitionBatch, *, generator: torch.Generator | None = None) -> Tensor:
        """log D - log(1 - D) with D = exp(-L): -L - log(1 - exp(-L))."""
        loss = self.diffusion_losses(self.model_input(batch), None, generator=generator)[0]
        loss = loss.clamp_min(self.config.min_loss)
        return -loss - torch.log(-torch.expm1(-loss))

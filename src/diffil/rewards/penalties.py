"""Gradient penalty on inputs interpolated between expert and agent samples."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from diffil.diffusion.rng import rand


def gradient_penalty(
    fn: Callable[[Tensor], Tensor], expert_x: Tensor, agent_x: Tensor, target: float = 1.0
) -> Tensor:
    """E[(||grad_x fn(x_hat)||_2 - target)^2] with x_hat on random expert-agent segments.

    WGAN-GP (Gulrajani et al., 2017) uses ``target=1``. Unequal batches are cut to the shorter.
    """
    n = min(expert_x.shape[0], agent_x.shape[0])
    e, a = expert_x[:n].detach(), agent_x[:n].detach()
    alpha = rand((n, *([1] * (e.ndim - 1))), device=e.device, dtype=e.dtype)
    x_hat = (alpha * e + (1.0 - alpha) * a).requires_grad_(True)
    out = fn(x_hat)
    (grad,) = torch.autograd.grad(out.sum(), x_hat, create_graph=True)
    return (grad.reshape(n, -1).norm(dim=1) - target).pow(2).mean()

"""Diffuser: a DDPM over state-action plans, sampled with inpainting and reward guidance.

A plan is a (H, S + A) array whose row k is ``[s_k, a_k]`` (reference 004, Eq. 38), with the
state ``s`` a chosen subset of the flat observation's dimensions (all of them by default). The
noise network is a :class:`~diffil.diffusion.temporal_unet.TemporalUnet1D` over the horizon;
it is trained with the simple DDPM loss (reference 004, Eq. 37) on windows of reward-agnostic
trajectories, in coordinates scaled per feature to [-1, 1] by the data's limits.

Sampling (:meth:`Diffuser.sample`) is DDPM's ancestral sampler with two additions:

- inpainting: after every denoising step the state of step 0 is overwritten with the given start
  state (and optionally the last step's with a goal state); Algorithm 3, line 5 of reference 004;
- reward guidance: each step's mean is shifted along the gradient of a differentiable return
  ``R`` (reference 004, Eqs. 49-53),
  ``tau^{t-1} = mu_theta(tau^t, t) + s Sigma_t grad_tau R(tau^t) + sigma_t z``.

With ``differentiable=True`` the graph of the whole chain (or of its last ``grad_last_k`` steps)
is kept, so a loss on the sampled plans reaches ``R``'s parameters through the guidance terms
(the second derivative of Eq. 57), which is what Diffuser-IRL (Algorithm 4) trains.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from os import PathLike
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from diffil.data.trajectory import TrajectoryDataset
from diffil.diffusion.rng import as_generator, randn
from diffil.diffusion.samplers import PosteriorCoefficients
from diffil.diffusion.schedules import make_schedule
from diffil.diffusion.temporal_unet import TemporalUnet1D
from diffil.errors import reading

#: A differentiable return: (B, H, S + A) plans in environment units -> (B,) returns.
PlanReturn = Callable[[Tensor], Tensor]


@dataclass
class DiffuserConfig:
    """Sizes of a :class:`Diffuser`; the defaults are small (maze-sized) ones."""

    horizon: int = 32
    num_steps: int = 20  # diffusion steps T
    schedule: str = "cosine"
    channels: tuple[int, ...] = (32, 64, 128)
    time_embed_dim: int = 32
    kernel_size: int = 5
    clip: float | None = 1.0  # bound on the predicted clean plan, in normalised units
    state_dims: tuple[int, ...] | None = None  # observation dims of the plan's state; None = all
    # the start state also enters the network as a global condition (FiLM input), not only by
    # inpainting step 0. Reference 004 inpaints only; on a few demonstrations that gives plans
    # whose later steps ignore the start (diffil augment turns this on).
    condition_on_start: bool = False


class Diffuser(nn.Module):
    """eps_theta over normalised plans (B, H, S + A), with normalisation buffers and a sampler."""

    center: Tensor
    half_range: Tensor
    state_index: Tensor

    def __init__(self, obs_dim: int, act_dim: int, config: DiffuserConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or DiffuserConfig()
        if config.horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {config.horizon}")
        dims = list(range(obs_dim)) if config.state_dims is None else list(config.state_dims)
        if not dims or min(dims) < 0 or max(dims) >= obs_dim:
            raise ValueError(f"state_dims must index the {obs_dim} observation dims, got {dims}")
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.state_dim = len(dims)
        self.plan_dim = self.state_dim + act_dim
        self.model = TemporalUnet1D(
            self.plan_dim,
            self.state_dim if config.condition_on_start else 0,
            channels=config.channels,
            time_embed_dim=config.time_embed_dim,
            kernel_size=config.kernel_size,
        )
        self.schedule = make_schedule(config.schedule, config.num_steps)
        self.register_buffer("state_index", torch.tensor(dims, dtype=torch.long))
        self.register_buffer("center", torch.zeros(self.plan_dim))
        self.register_buffer("half_range", torch.ones(self.plan_dim))

    # ---- data and normalisation ----------------------------------------------------------

    @property
    def horizon(self) -> int:
        return self.config.horizon

    def plans_from_dataset(self, dataset: TrajectoryDataset, stride: int = 1) -> Tensor:
        """All H-step windows ``[s_k, a_k]`` of ``dataset`` (sliding by ``stride``), env units."""
        windows = dataset.windows(self.horizon, stride=stride)
        if len(windows) == 0:
            raise ValueError(f"no trajectory is at least {self.horizon} steps long")
        states = windows.observations[:, : self.horizon][..., self.state_index.cpu().numpy()]
        plans = np.concatenate([states, windows.actions], axis=-1)
        return torch.as_tensor(plans, dtype=torch.float32, device=self.center.device)

    def fit_normalizer(self, plans: Tensor) -> None:
        """Scale each feature's data range [low, high] to [-1, 1] (constant features to 0)."""
        flat = plans.reshape(-1, self.plan_dim)
        low, high = flat.min(dim=0).values, flat.max(dim=0).values
        self.center.copy_((high + low) / 2)
        self.half_range.copy_(((high - low) / 2).clamp(min=1e-6))

    def normalize(self, plans: Tensor) -> Tensor:
        return (plans - self.center) / self.half_range

    def unnormalize(self, plans: Tensor) -> Tensor:
        return plans * self.half_range + self.center

    def _normalize_state(self, state: Tensor) -> Tensor:
        s = slice(0, self.state_dim)
        return (state - self.center[s]) / self.half_range[s]

    @property
    def action_bounds(self) -> tuple[Tensor, Tensor]:
        """The training data's action limits (env units)."""
        s = slice(self.state_dim, None)
        return self.center[s] - self.half_range[s], self.center[s] + self.half_range[s]

    # ---- files ---------------------------------------------------------------------------

    def save(self, path: str | PathLike) -> None:
        """Write the weights, normaliser and sizes to ``path`` (torch.save; see :meth:`load`)."""
        config = dataclasses.asdict(self.config)
        config = {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}
        spec = {"obs_dim": self.obs_dim, "act_dim": self.act_dim, "config": config}
        torch.save({"spec": spec, "state_dict": self.state_dict()}, path)

    @classmethod
    def load(cls, path: str | PathLike, map_location: str | torch.device = "cpu") -> Diffuser:
        """A Diffuser written by :meth:`save`, in eval mode."""
        with reading(path, "Diffuser file", "pass a file written by Diffuser.save"):
            blob = torch.load(path, map_location=map_location, weights_only=True)
            spec = blob["spec"]
            config = dict(spec["config"])
            for key in ("channels", "state_dims"):
                if config.get(key) is not None:
                    config[key] = tuple(config[key])
            model = cls(spec["obs_dim"], spec["act_dim"], DiffuserConfig(**config))
            model.load_state_dict(blob["state_dict"])
        return model.eval()

    # ---- training ------------------------------------------------------------------------

    def loss(self, plans: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Mean ||eps - eps_theta(tau^t, t)||^2 (reference 004, Eq. 37) on env-unit ``plans``.

        The start state of tau^t is clean, as it is when sampling with inpainting, and is left
        out of the loss (its noise cannot be predicted).
        """
        x0 = self.normalize(plans)
        t = self.schedule.sample_timesteps(x0.shape[0], device=x0.device, generator=generator)
        eps = randn(x0.shape, device=x0.device, dtype=x0.dtype, generator=generator)
        x_t = self._inpaint(self.schedule.q_sample(x0, t, eps), x0[:, 0, : self.state_dim])
        squared = (self.model(x_t, t, self._condition(x0[:, 0, : self.state_dim])) - eps).pow(2)
        mask = torch.ones_like(squared)
        mask[:, 0, : self.state_dim] = 0.0
        return (squared * mask).sum() / mask.sum()

    # ---- sampling ------------------------------------------------------------------------

    def _condition(self, start: Tensor) -> Tensor | None:
        """The network's global condition: the normalised start state, if it takes one."""
        return start if self.config.condition_on_start else None

    def _inpaint(self, x: Tensor, start: Tensor, goal: Tensor | None = None) -> Tensor:
        """``x`` with step 0's state set to ``start`` (and the last step's to ``goal``).

        Built out of place, so the graph through ``x`` stays valid when gradients are kept.
        """
        s = self.state_dim
        first = torch.cat([start, x[:, 0, s:]], dim=-1).unsqueeze(1)
        if goal is None or x.shape[1] == 1:
            return torch.cat([first, x[:, 1:]], dim=1)
        last = torch.cat([goal, x[:, -1, s:]], dim=-1).unsqueeze(1)
        return torch.cat([first, x[:, 1:-1], last], dim=1)

    def _guidance(self, guide: PlanReturn, x: Tensor, create_graph: bool) -> tuple[Tensor, Tensor]:
        """grad_tau R(unnormalize(tau)) at tau = x (normalised units), and R itself."""
        with torch.enable_grad():
            x_in = x if (create_graph and x.requires_grad) else x.detach().requires_grad_(True)
            returns = guide(self.unnormalize(x_in))
            if returns.shape != (x.shape[0],):
                raise ValueError(
                    f"the guide must return shape ({x.shape[0]},), got {returns.shape}"
                )
            (grad,) = torch.autograd.grad(returns.sum(), x_in, create_graph=create_graph)
        return grad, returns

    def sample(
        self,
        start: Tensor,
        goal: Tensor | None = None,
        *,
        guide: PlanReturn | None = None,
        scale: float = 0.1,
        noise: Tensor | None = None,
        generator: torch.Generator | int | None = None,
        differentiable: bool = False,
        grad_last_k: int | None = None,
    ) -> Tensor:
        """Plans (B, H, S + A) in env units whose step-0 state is ``start`` (B, S) exactly.

        ``goal`` (B, S) is inpainted into the last step's state. ``guide`` is a differentiable
        return R (plans in env units -> (B,)); each step's mean moves by ``scale * Sigma_t *
        grad R(tau^t)`` (Eq. 53 of reference 004), with Sigma_t the step's posterior variance
        (at the last step, where it is 0, the next step's, as improved DDPM clips it).
        ``noise`` is tau^T (normalised units); ``generator`` seeds the noise drawn on the way.
        With ``differentiable=True`` the result carries the graph of the last ``grad_last_k``
        denoising steps (all of them if None); earlier steps run without a graph. The graph also
        reaches the Diffuser's own parameters unless they are frozen.
        """
        if grad_last_k is not None and grad_last_k < 1:
            raise ValueError(f"grad_last_k must be >= 1, got {grad_last_k}")
        start = torch.as_tensor(start, dtype=torch.float32, device=self.center.device)
        start = start.unsqueeze(0) if start.ndim == 1 else start
        if start.shape[-1] != self.state_dim:
            raise ValueError(f"start states have {start.shape[-1]} dims, expected {self.state_dim}")
        batch = start.shape[0]
        goal_t = None
        if goal is not None:
            goal_t = torch.as_tensor(goal, dtype=torch.float32, device=self.center.device)
            goal_t = goal_t.unsqueeze(0).expand(batch, -1) if goal_t.ndim == 1 else goal_t
        gen = as_generator(generator)
        shape = (batch, self.horizon, self.plan_dim)
        x = noise if noise is not None else randn(shape, device=self.center.device, generator=gen)
        if tuple(x.shape) != shape:
            raise ValueError(f"noise must have shape {shape}, got {tuple(x.shape)}")
        start_n = self._normalize_state(start)
        goal_n = None if goal_t is None else self._normalize_state(goal_t)

        steps = self.schedule.num_steps
        posterior = PosteriorCoefficients(self.schedule)
        # Sigma_t of Eq. 49 is the posterior variance; at t = 0 (variance 0) the next step's
        guide_var = list(posterior.var)
        guide_var[0] = posterior.var[1] if steps > 1 else self.schedule.betas[0].item()
        keep_from = steps if grad_last_k is None else grad_last_k  # steps t < keep_from keep graph
        clip = self.config.clip

        x = self._inpaint(x, start_n, goal_n)
        for t in reversed(range(steps)):
            keep = differentiable and t < keep_from
            with torch.set_grad_enabled(keep):
                if not keep:
                    x = x.detach()
                t_batch = torch.full((batch,), t, device=x.device, dtype=torch.long)
                eps = self.model(x, t_batch, self._condition(start_n))
                # mu_theta of Eq. 48: posterior mean through x0_hat clipped to the data box
                mean = posterior.mean(x, eps, t, clip)
                if guide is not None and scale != 0.0:
                    # Eq. 53: + s Sigma_t grad_tau R(tau^t); with Eq. 51-52, R = sum of rewards
                    grad, _ = self._guidance(guide, x, create_graph=keep)
                    mean = mean + scale * guide_var[t] * grad
                if t > 0:  # + sigma_t z
                    z = randn(shape, device=x.device, generator=gen)
                    x = mean + math.sqrt(posterior.var[t]) * z
                else:
                    x = mean
                x = self._inpaint(x, start_n, goal_n)
        plans = self.unnormalize(x)
        # the inpainted entries are returned exactly as given, free of float round-off
        plans = self._inpaint(plans, start, goal_t)
        return plans if differentiable else plans.detach()


def train_diffuser(
    diffuser: Diffuser,
    data: TrajectoryDataset | Tensor,
    *,
    steps: int = 1000,
    batch_size: int = 64,
    lr: float = 2e-4,
    stride: int = 1,
    seed: int = 0,
    fit_normalizer: bool = True,
    callback: Callable[[int, float], None] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    generator: torch.Generator | None = None,
    first_step: int = 0,
) -> list[float]:
    """Train ``diffuser`` for ``steps`` Adam steps on H-step windows of ``data``.

    ``data`` is a dataset (windows sliding by ``stride``) or (N, H, S + A) plans in env units.
    The normaliser is fitted to the data first unless ``fit_normalizer=False``. Returns the
    per-step losses. A training resumed from a checkpoint passes its ``optimizer`` (made by
    :func:`diffuser_optimizer`), its batch ``generator`` and ``first_step`` (steps done).
    """
    plans = data if isinstance(data, Tensor) else diffuser.plans_from_dataset(data, stride)
    plans = plans.to(diffuser.center.device, torch.float32)
    if fit_normalizer:
        diffuser.fit_normalizer(plans)
    gen = generator if generator is not None else torch.Generator().manual_seed(seed)
    optimizer = optimizer if optimizer is not None else diffuser_optimizer(diffuser, lr)
    diffuser.train()
    losses = []
    for step in range(first_step, steps):
        index = torch.randint(len(plans), (min(batch_size, len(plans)),), generator=gen)
        loss = diffuser.loss(plans[index.to(plans.device)], generator=gen)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
        if callback is not None:
            callback(step, losses[-1])
    diffuser.eval()
    return losses


def diffuser_optimizer(diffuser: Diffuser, lr: float = 2e-4) -> torch.optim.Optimizer:
    """The Adam optimizer :func:`train_diffuser` trains ``diffuser``'s noise network with."""
    return torch.optim.Adam(diffuser.model.parameters(), lr=lr)


def make_diffuser(
    dataset: TrajectoryDataset,
    horizon: int = 32,
    state_dims: Sequence[int] | None = None,
    **config: Any,
) -> Diffuser:
    """A Diffuser sized for ``dataset`` (its obs/action dims), its normaliser fitted to it."""
    if dataset.obs_dim is None or dataset.act_dim is None:
        raise ValueError("the dataset is empty")
    cfg = DiffuserConfig(
        horizon=horizon,
        state_dims=None if state_dims is None else tuple(state_dims),
        **config,
    )
    diffuser = Diffuser(dataset.obs_dim, dataset.act_dim, cfg)
    diffuser.fit_normalizer(diffuser.plans_from_dataset(dataset))
    return diffuser

"""The action-chunk model: normalisation, the denoising network, its training loss and sampler.

One module serves three objectives on the same data and network family:

- ``diffusion`` (Diffusion Policy; reference 002, Algorithms 1-2 and DDIM): denoising of a
  noised action chunk given the observation history (predicting eps, x0 or v);
- ``flow`` (flow-matching policy; reference 002, CFM loss): velocity of the linear path;
- ``regression`` (MLP BC on chunks): the chunk itself by mean squared error, the baseline that
  averages the modes of a multimodal expert.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from diffil.diffusion.flow import TIME_SCALE, flow_matching_loss, flow_sample, path_coefficients
from diffil.diffusion.layers import build_mlp
from diffil.diffusion.losses import noise_prediction_loss
from diffil.diffusion.networks import NoisePredictionMLP
from diffil.diffusion.samplers import ddim_sample, ddpm_sample, langevin_sample
from diffil.diffusion.schedules import extract, make_schedule
from diffil.diffusion.temporal_unet import TemporalUnet1D
from diffil.generative.config import GenerativePolicyConfig

ACTION_MARGIN = 1e-3  # widen the demonstrated action range slightly before scaling to [-1, 1]


class ChunkMLPDenoiser(nn.Module):
    """:class:`NoisePredictionMLP` on the flattened chunk: (B, H_a, A) -> (B, H_a, A)."""

    def __init__(self, horizon: int, act_dim: int, cond_dim: int, cfg: GenerativePolicyConfig):
        super().__init__()
        self.horizon, self.act_dim = horizon, act_dim
        self.net = NoisePredictionMLP(
            horizon * act_dim, cond_dim, 0, cfg.hidden, cfg.time_embed_dim
        )

    def forward(self, x_t: Tensor, t: Tensor, cond: Tensor | None = None) -> Tensor:
        out = self.net(x_t.reshape(x_t.shape[0], -1), t, cond=cond)
        return out.reshape(x_t.shape)


class ChunkRegressor(nn.Module):
    """MLP from the observation history straight to the action chunk (BC by MSE)."""

    def __init__(self, horizon: int, act_dim: int, cond_dim: int, cfg: GenerativePolicyConfig):
        super().__init__()
        self.horizon, self.act_dim = horizon, act_dim
        self.net = build_mlp(cond_dim, horizon * act_dim, cfg.hidden)

    def forward(self, cond: Tensor) -> Tensor:
        return self.net(cond).reshape(cond.shape[0], self.horizon, self.act_dim)


class ActionChunkModel(nn.Module):
    """p(a_{t..t+H_a-1} | o_{t-H_o+1..t}): scaling of inputs, network, loss and sampler.

    Observations are standardised and actions scaled to [-1, 1] with the demonstrations'
    statistics (buffers, saved with the weights). ``spec`` is a JSON-able description from
    which :meth:`from_spec` rebuilds the module.
    """

    def __init__(self, obs_dim: int, act_dim: int, objective: str, config: GenerativePolicyConfig):
        super().__init__()
        self.config = config.validate(objective)
        self.obs_dim, self.act_dim, self.objective = obs_dim, act_dim, objective
        cfg = self.config
        cond_dim = cfg.obs_horizon * obs_dim
        net: nn.Module
        if objective == "regression":
            net = ChunkRegressor(cfg.action_horizon, act_dim, cond_dim, cfg)
        elif cfg.network == "unet":
            net = TemporalUnet1D(act_dim, cond_dim, cfg.unet_channels, cfg.time_embed_dim)
        else:
            net = ChunkMLPDenoiser(cfg.action_horizon, act_dim, cond_dim, cfg)
        self.net = net
        self.schedule = (
            make_schedule(cfg.schedule, cfg.diffusion_steps) if objective == "diffusion" else None
        )
        if self.schedule is not None:  # x_t -> the linear path's point (network_input: linear)
            abar = self.schedule.alphas_cumprod
            to_linear = 1.0 / (abar.sqrt() + (1.0 - abar).sqrt())
            self.register_buffer("to_linear_scale", to_linear, persistent=False)
        self.register_buffer("obs_mean", torch.zeros(obs_dim))
        self.register_buffer("obs_std", torch.ones(obs_dim))
        self.register_buffer("act_low", -torch.ones(act_dim))
        self.register_buffer("act_high", torch.ones(act_dim))

    # -- description --------------------------------------------------------------------------

    @property
    def spec(self) -> dict[str, Any]:
        config = {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(self.config).items()
        }
        return {
            "kind": self.objective,
            "obs_dim": self.obs_dim,
            "act_dim": self.act_dim,
            "config": config,
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> ActionChunkModel:
        fields = {
            k: tuple(v) if isinstance(v, list) else v for k, v in dict(spec["config"]).items()
        }
        # files written before the option existed hold epsilon networks, whatever the default is
        fields.setdefault("prediction", "epsilon")
        fields.setdefault("network_input", "native")  # and saw their path's own scale
        config = GenerativePolicyConfig(**fields)
        return cls(int(spec["obs_dim"]), int(spec["act_dim"]), str(spec["kind"]), config)

    def fit_normalization(self, obs: np.ndarray, actions: np.ndarray) -> None:
        """Observation mean/std and action range from demonstrations (N, obs_dim), (N, A)."""
        obs = np.asarray(obs, dtype=np.float64).reshape(-1, self.obs_dim)
        actions = np.asarray(actions, dtype=np.float64).reshape(-1, self.act_dim)
        low, high = actions.min(axis=0), actions.max(axis=0)
        span = np.maximum(high - low, 1e-2)
        with torch.no_grad():
            self.obs_mean.copy_(torch.as_tensor(obs.mean(axis=0)))
            self.obs_std.copy_(torch.as_tensor(np.maximum(obs.std(axis=0), 1e-3)))
            self.act_low.copy_(torch.as_tensor(low - ACTION_MARGIN * span))
            self.act_high.copy_(torch.as_tensor(high + ACTION_MARGIN * span))

    # -- scaling --------------------------------------------------------------------------------

    def condition(self, obs_history: Tensor) -> Tensor:
        """(B, H_o, obs_dim) raw observations -> (B, H_o * obs_dim) standardised."""
        return ((obs_history - self.obs_mean) / self.obs_std).reshape(obs_history.shape[0], -1)

    def scale_actions(self, actions: Tensor) -> Tensor:
        return 2.0 * (actions - self.act_low) / (self.act_high - self.act_low) - 1.0

    def unscale_actions(self, scaled: Tensor) -> Tensor:
        return self.act_low + 0.5 * (scaled + 1.0) * (self.act_high - self.act_low)

    # -- training -------------------------------------------------------------------------------

    def denoise(
        self, x_t: Tensor, t: Tensor, cond: Tensor | None = None, label: Tensor | None = None
    ) -> Tensor:
        """eps_theta (diffusion) or v_theta (flow) for noised chunks x_t (B, H_a, A)."""
        return self.net(self.network_input(x_t, t), t, cond)

    def network_input(self, x_t: Tensor, t: Tensor) -> Tensor:
        """The noised chunk at the scale ``generative.network_input`` asks for.

        At one signal-to-noise ratio, the variance-preserving point x_vp = a x + s eps
        (a^2 + s^2 = 1: DDPM, the cosine flow path) and the linear path's point
        x_lin = (1 - u) eps + u x differ only by a factor: x_lin = x_vp / (a + s).
        """
        mode = self.config.network_input
        flow = self.objective == "flow"
        own = "linear" if flow and self.config.flow_path == "linear" else "vp"
        if mode in ("native", own) or self.objective == "regression":
            return x_t
        if not flow:  # DDPM to the linear path's scale
            return x_t * extract(self.to_linear_scale, t, x_t)
        u = (t.to(x_t.dtype) / TIME_SCALE).reshape(-1, *([1] * (x_t.ndim - 1)))
        a, s, _, _ = path_coefficients(self.config.flow_path, u)
        return x_t / (a + s) if mode == "linear" else x_t / (a**2 + s**2).sqrt()

    def loss(
        self, obs_history: Tensor, actions: Tensor, generator: torch.Generator | None = None
    ) -> Tensor:
        """Mean training loss of a batch: (B, H_o, obs_dim) observations, (B, H_a, A) actions."""
        cond = self.condition(obs_history)
        x1 = self.scale_actions(actions)
        if self.objective == "regression":
            return (self.net(cond) - x1).pow(2).mean()
        if self.objective == "flow":
            return flow_matching_loss(
                self.denoise, x1, cond, generator=generator, path=self.config.flow_path
            ).mean()
        # reference 002, Algorithm 1: ||eps - eps_theta(sqrt(abar) x0 + sqrt(1-abar) eps, t)||^2,
        # or the same regression on x0 or v (generative.prediction)
        return noise_prediction_loss(
            self.denoise,
            self.schedule,
            x1,
            cond=cond,
            generator=generator,
            prediction=self.config.prediction,
        ).mean()

    # -- sampling -------------------------------------------------------------------------------

    @property
    def chunk_shape(self) -> tuple[int, int]:
        return self.config.action_horizon, self.act_dim

    def sample(
        self,
        obs_history: Tensor,
        noise: Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Action chunks (B, H_a, A) in the environment's units for raw observation histories.

        ``noise`` is the initial x_T (B, H_a, A) (drawn from ``generator`` if None); the
        deterministic samplers (ddim with eta 0, euler, midpoint) are a function of it.
        """
        cfg = self.config
        cond = self.condition(obs_history)
        if self.objective == "regression":
            return self.unscale_actions(self.net(cond))
        if noise is None:
            shape = (obs_history.shape[0], *self.chunk_shape)
            noise = torch.randn(shape, generator=generator).to(obs_history.device)
        clip = 1.0 if cfg.clip_sample else None
        if self.objective == "flow":
            x = flow_sample(
                self.denoise,
                noise,
                cond,
                sample_steps=cfg.sample_steps,
                method=cfg.sampler,
                clip=clip,
            )
        elif cfg.sampler == "ddim":
            x = ddim_sample(
                self.denoise,
                self.schedule,
                noise,
                cond,
                sample_steps=cfg.sample_steps,
                eta=cfg.ddim_eta,
                clip=clip,
                generator=generator,
                prediction=cfg.prediction,
            )
        elif cfg.sampler == "ddpm":
            x = ddpm_sample(
                self.denoise,
                self.schedule,
                noise,
                cond,
                clip=clip,
                generator=generator,
                prediction=cfg.prediction,
            )
        else:
            x = langevin_sample(
                self.denoise,
                self.schedule,
                noise,
                cond,
                levels=cfg.langevin_levels,
                steps_per_level=cfg.langevin_steps_per_level,
                step_size=cfg.langevin_step_size,
                clip=clip,
                generator=generator,
                prediction=cfg.prediction,
            )
        return self.unscale_actions(x)

    @property
    def deterministic_sampler(self) -> bool:
        """True when :meth:`sample` is a function of the initial noise alone."""
        cfg = self.config
        if self.objective == "diffusion":
            return cfg.sampler == "ddim" and cfg.ddim_eta == 0.0
        return True

    def with_sampler(self, sampler: str, sample_steps: int | None = None) -> ActionChunkModel:
        """A copy sampling with another sampler (same weights): e.g. ddpm, ddim, langevin."""
        config = dataclasses.replace(
            self.config, sampler=sampler, sample_steps=sample_steps or self.config.sample_steps
        )
        other = ActionChunkModel(self.obs_dim, self.act_dim, self.objective, config)
        other.load_state_dict(self.state_dict())
        return other.to(self.obs_mean.device)

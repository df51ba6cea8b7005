"""Configuration of the generative (diffusion and flow-matching) action-chunk policies."""

from __future__ import annotations

from dataclasses import dataclass

from diffil.diffusion.flow import INTEGRATORS, PATHS
from diffil.diffusion.parameterization import PREDICTIONS
from diffil.diffusion.samplers import SAMPLERS
from diffil.diffusion.schedules import SCHEDULE_NAMES
from diffil.errors import DiffilError

OBJECTIVES = ("diffusion", "flow", "regression")
NETWORKS = ("mlp", "unet")
NETWORK_INPUTS = ("native", "vp", "linear")
DETERMINISTIC_SAMPLERS = ("ddim", "euler", "midpoint")  # given the initial noise


@dataclass(kw_only=True)
class GenerativePolicyConfig:
    """Network, horizons and sampler of a diffusion or flow-matching policy (reference 002).

    The policy sees the last ``obs_horizon`` observations (H_o), predicts ``action_horizon``
    actions (H_a, an action chunk) and executes the first ``exec_horizon`` of them before it
    plans again (receding horizon). ``sampler`` is a deploy-time choice: the same trained
    diffusion network samples with ``ddim`` (few steps), ``ddpm`` (all ``diffusion_steps``) or
    ``langevin`` (annealed Langevin dynamics); a flow network integrates with ``euler`` or
    ``midpoint``.
    """

    network: str = "mlp"  # "mlp" or "unet" (1-D temporal U-Net over the chunk)
    hidden: tuple[int, ...] = (256, 256, 256)  # MLP widths
    unet_channels: tuple[int, ...] = (64, 128)  # U-Net level widths
    time_embed_dim: int = 64  # width of the sinusoidal time embedding and its MLP
    obs_horizon: int = 2  # H_o: observations the policy conditions on
    action_horizon: int = 8  # H_a: actions predicted per sample (the chunk)
    exec_horizon: int = 4  # actions executed before sampling again
    diffusion_steps: int = 100  # T of the DDPM noise schedule (diffusion policies)
    # noise schedule: "cosine", "linear" (DDPM's betas) or "rectified" (flow's linear path)
    schedule: str = "cosine"
    # what the diffusion network predicts: "epsilon", "sample" (x0) or "v_prediction". An eps
    # network cannot estimate x0 at the cosine schedule's noisiest steps (error x ~2,000), which
    # is what held the diffusion policy far below flow matching; see diffusion.parameterization
    prediction: str = "v_prediction"
    flow_path: str = "linear"  # flow policies: "linear" (reference 002) or "cosine"
    # scale of the noised chunk the network sees, at the same signal-to-noise ratio: "linear"
    # (the linear flow path's: x_t / (a + s) for DDPM's x_t = a x + s eps), "vp" (unit variance,
    # as DDPM) or "native" (its own path's). v-prediction DDPM, 6 seeds: hopper 1.00 with the
    # linear scale against 0.84 native (flow 1.00), halfcheetah 0.60 against 0.66 (flow 0.68,
    # within seed noise), pointmaze-medium 99% against 98%
    # (benchmarks/results/diffusion_policy_diagnosis_path.md)
    network_input: str = "linear"
    # deploy-time sampler: ddim, ddpm or langevin (diffusion); euler or midpoint (flow)
    sampler: str = "ddim"
    sample_steps: int = 10  # DDIM steps or ODE steps
    ddim_eta: float = 0.0  # DDIM's noise scale: 0 is deterministic, 1 is DDPM-like
    langevin_levels: int = 10  # noise levels of the Langevin sampler
    langevin_steps_per_level: int = 5  # Langevin updates per level
    langevin_step_size: float = 0.5  # Langevin step size relative to the level's variance
    clip_sample: bool = True  # bound predicted (scaled) actions to [-1, 1]
    ema_decay: float = 0.995  # exponential moving average of the weights (0 = none)

    def validate(self, objective: str) -> GenerativePolicyConfig:
        """Raise a one-line :class:`DiffilError` for settings no policy could use."""
        if objective not in OBJECTIVES:
            raise DiffilError(f"unknown objective {objective!r}", f"use {', '.join(OBJECTIVES)}")
        choices = {
            "network": NETWORKS,
            "prediction": PREDICTIONS,
            "schedule": SCHEDULE_NAMES,
            "flow_path": PATHS,
            "network_input": NETWORK_INPUTS,
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise DiffilError(
                    f"unknown generative.{name} {getattr(self, name)!r}",
                    f"set generative.{name} to one of {', '.join(allowed)}",
                )
        if objective == "regression" and self.network != "mlp":
            raise DiffilError("regression (MLP BC) needs network mlp", "set generative.network=mlp")
        samplers = {"diffusion": SAMPLERS, "flow": INTEGRATORS, "regression": (self.sampler,)}
        if self.sampler not in samplers[objective]:
            raise DiffilError(
                f"sampler {self.sampler!r} does not fit a {objective} policy",
                f"set generative.sampler to one of {', '.join(samplers[objective])}",
            )
        for name in (
            "obs_horizon",
            "action_horizon",
            "exec_horizon",
            "diffusion_steps",
            "sample_steps",
            "time_embed_dim",
            "langevin_levels",
            "langevin_steps_per_level",
        ):
            if getattr(self, name) < 1:
                raise DiffilError(f"generative.{name} must be >= 1", "set a positive value")
        if self.exec_horizon > self.action_horizon:
            raise DiffilError(
                "generative.exec_horizon exceeds generative.action_horizon",
                "execute at most the predicted chunk",
            )
        ddim = objective == "diffusion" and self.sampler == "ddim"
        if ddim and self.sample_steps > self.diffusion_steps:
            raise DiffilError(
                "generative.sample_steps exceeds generative.diffusion_steps",
                "use at most diffusion_steps DDIM steps",
            )
        if not 0.0 <= self.ema_decay < 1.0:
            raise DiffilError("generative.ema_decay must be in [0, 1)", "e.g. 0.995")
        return self

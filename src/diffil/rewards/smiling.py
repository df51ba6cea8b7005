"""SMILING (reference 001): rewards from the gap between two diffusion score models.

An expert score model eps_E is pre-trained on expert states (or state-action pairs) before
training starts and then kept fixed; a learner score model eps_L is trained on recent learner
data at every update and never reset (the paper's Follow-the-Leader learner step: with SAC the
method's preset gives it the last 200k env steps, ``reward.recent``, so it models the learner's
past state distribution rather than its last few episodes). The reward is

    r(x) = E_{t, eps} ||eps_L(x_t, t) - eps||^2 - E_{t, eps} ||eps_E(x_t, t) - eps||^2,

the negated cost of reference 001's Remark 1 (the noise-prediction form of the cost built from
the Diffusion Score divergence of Definition 1), with x = s, or x = (s, a). (The stored text of
reference 001 gives the definition and remark by name only; its numbered equations are not in
it.) States the expert visits are denoised well by eps_E and, once the learner leaves them,
badly by eps_L, so they earn a high reward. Unlike GAIL-style methods there is no
discriminator and no adversarial loss: both models are trained by plain noise regression.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from diffil.diffusion.losses import noise_prediction_loss
from diffil.diffusion.networks import NoisePredictionMLP
from diffil.diffusion.rng import GeneratorLike, as_generator, randn
from diffil.diffusion.schedules import SCHEDULE_NAMES, make_schedule
from diffil.rewards.base import RewardModel, RewardModelConfig
from diffil.rewards.batch import TransitionBatch

SMILING_INPUTS = ("state", "state_action")


@dataclass(kw_only=True)
class SmilingConfig(RewardModelConfig):
    """SMILING options.

    Attributes:
        inputs: ``"state"`` (score models over s, the paper's state-only setting) or
            ``"state_action"`` (over (s, a)). ``obs_only`` forces ``"state"``.
        num_steps: T of the noise schedule.
        schedule: ``"cosine"`` or ``"linear"``.
        t_grid: number of evenly spaced diffusion steps in {0, ..., T-1} the denoising errors
            are averaged over (one noise draw each, the same for both models).
        expert_pretrain_steps: gradient steps of the expert score model before training.
        normalize: standardise the rewards of each batch (subtract its mean, divide by its std).
        time_embed_dim: width of the denoisers' time embedding.
        activation: SiLU by default: the reward runs both denoisers on t_grid x batch rows for
            every replay batch, and Mish costs about twice as much on CPU for no gain here.
    """

    lr: float = 1e-3
    activation: str = "silu"
    hidden: tuple[int, ...] = (128, 128)
    inputs: str = "state_action"
    num_steps: int = 100
    schedule: str = "cosine"
    t_grid: int = 5
    expert_pretrain_steps: int = 2000
    normalize: bool = True
    time_embed_dim: int = 32

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.inputs not in SMILING_INPUTS:
            raise ValueError(f"inputs must be one of {SMILING_INPUTS}, got {self.inputs!r}")
        if self.schedule not in SCHEDULE_NAMES:
            raise ValueError(f"unknown schedule {self.schedule!r}; valid: {SCHEDULE_NAMES}")
        if self.num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {self.num_steps}")
        if not 1 <= self.t_grid <= self.num_steps:
            raise ValueError(f"t_grid must be in [1, num_steps], got {self.t_grid}")
        if self.expert_pretrain_steps < 0:
            raise ValueError("expert_pretrain_steps must be >= 0")


class SmilingRewardModel(RewardModel):
    """SMILING's score-matching reward; see the module docstring.

    :meth:`pretrain` fits the expert score model; :meth:`update` takes one step of the learner
    score model on the agent batch (the expert batch is not used after pre-training).
    """

    config: SmilingConfig

    def __init__(self, obs_dim: int, act_dim: int, config: SmilingConfig | None = None) -> None:
        super().__init__(obs_dim, act_dim, config or SmilingConfig())
        cfg = self.config
        self.states_only = cfg.obs_only or cfg.inputs == "state"
        self.input_dim = obs_dim if self.states_only else obs_dim + act_dim
        self.schedule = make_schedule(cfg.schedule, cfg.num_steps)
        self.expert_model = self._denoiser()
        self.learner_model = self._denoiser()
        # the fixed grid of diffusion steps the errors are averaged over
        grid = torch.linspace(0, cfg.num_steps - 1, cfg.t_grid).round().long()
        self.register_buffer("t_grid", grid, persistent=False)
        self._init_optimizer()  # one Adam; each model only steps on its own loss

    def _denoiser(self) -> NoisePredictionMLP:
        cfg = self.config
        return NoisePredictionMLP(
            self.input_dim,
            hidden=cfg.hidden,
            time_embed_dim=cfg.time_embed_dim,
            activation=cfg.activation,
        )

    def model_input(self, batch: TransitionBatch) -> Tensor:
        """x = s (state-only or obs-only; actions are never read) or x = (s, a)."""
        if self.states_only:
            return batch.obs
        if batch.act is None:
            raise ValueError("SMILING with inputs=state_action needs batch.act")
        return torch.cat([batch.obs, batch.act], dim=-1)

    def denoising_errors(
        self, x: Tensor, *, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """(expert error, learner error), each (B,): ||eps_hat - eps||^2 (per-dim mean) averaged
        over the t grid, with the same t and eps for both models."""
        k, b, dim = self.t_grid.numel(), x.shape[0], x.shape[1]
        t = self.t_grid.to(x.device).repeat_interleave(b)
        eps = randn((k * b, dim), device=x.device, dtype=x.dtype, generator=generator)
        x_rep = x.repeat(k, 1)
        errors = []
        for model in (self.expert_model, self.learner_model):
            loss = noise_prediction_loss(model, self.schedule, x_rep, t=t, eps=eps)
            errors.append(loss.reshape(k, b).mean(dim=0))
        return errors[0], errors[1]

    def reward(self, batch: TransitionBatch, *, generator: GeneratorLike = None) -> Tensor:
        """Learner error - expert error (Remark 1 of reference 001, negated cost), optionally
        standardised over the batch."""
        with torch.no_grad():
            x = self.model_input(self._prepare(batch))
            expert_err, learner_err = self.denoising_errors(x, generator=as_generator(generator))
            r = learner_err - expert_err
            if self.config.normalize and r.numel() > 1:
                r = (r - r.mean()) / (r.std(unbiased=False) + 1e-8)
            return r

    def _regression_step(self, model: NoisePredictionMLP, batch: TransitionBatch) -> float:
        """One DDPM noise-regression step of ``model`` (random t, eps per row)."""
        self.train()
        x = self.model_input(self._prepare(batch))
        loss = noise_prediction_loss(model, self.schedule, x).mean()
        self._optimize(loss)
        return float(loss.detach())

    def pretrain(self, sample_expert: Callable[[], TransitionBatch]) -> dict[str, float]:
        """Fit the expert score model for ``expert_pretrain_steps`` steps (before training)."""
        losses = [
            self._regression_step(self.expert_model, sample_expert())
            for _ in range(self.config.expert_pretrain_steps)
        ]
        if not losses:
            return {}
        tail = losses[-max(1, len(losses) // 10) :]
        return {"expert_loss": sum(tail) / len(tail)}

    def update(self, expert: TransitionBatch, agent: TransitionBatch) -> dict[str, float]:
        """One learner score-model step on ``agent``; also reports the models' errors."""
        learner_loss = self._regression_step(self.learner_model, agent)
        with torch.no_grad():
            x_e = self.model_input(self._prepare(expert))
            x_a = self.model_input(self._prepare(agent))
            e_exp, l_exp = self.denoising_errors(x_e)
            e_agt, l_agt = self.denoising_errors(x_a)
        return {
            "learner_loss": learner_loss,
            "expert_reward": float((l_exp - e_exp).mean()),  # unnormalised
            "agent_reward": float((l_agt - e_agt).mean()),
        }

"""A run's learned reward, frozen: what ``diffil train ppo|sac --reward RUN`` trains on.

:func:`diffil.algorithms.reward_transfer.load_learned_reward` reads the reward of any run that
learned one: the reward model of an adversarial or score-matching run (AIRL, DRAIL, SMILING,
GAIL, DiffAIL, WAIL: the latest ``checkpoints/latest/reward_model.pt``, with the observation
standardisation that run used) or
Diffuser-IRL's ``reward.pt`` (r_phi(s, a) on raw observations). It is wrapped in
:class:`FrozenReward`: eval mode, ``requires_grad`` off, no optimizer, and an :meth:`update` that
refuses, so a learner can read the reward but never change it.

What the learner sees is the source model's reward as the source run's own learner saw it,
except that AIRL (and DRAIL with ``potential_shaping``) gives its shaped reward
f(s, a, s') = g + gamma h' - h (no - log pi term, which belonged to the imitation run's policy).
On PPO, ``ppo.normalize_reward`` of the new run scales the returns as it does for imitation runs
on the same task (same task preset).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from diffil.diffusion.rng import GeneratorLike
from diffil.rewards.base import RewardModel, RewardModelConfig
from diffil.rewards.batch import TransitionBatch
from diffil.rewards.normalization import scale_obs


class FrozenReward(RewardModel):
    """A learned reward that is read, never trained: r = the wrapped model's reward."""

    needs_log_prob = False  # AIRL (or shaped DRAIL) without - log pi: its shaped reward f

    def __init__(self, model: torch.nn.Module, obs_dim: int, act_dim: int, obs_only: bool):
        super().__init__(obs_dim, act_dim, RewardModelConfig(obs_only=obs_only))
        self.inner = model
        self.inner.eval().requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> FrozenReward:
        """Stays in eval mode whatever is asked (dropout or noise layers never switch)."""
        return super().train(False)

    def reward(self, batch: TransitionBatch, *, generator: GeneratorLike = None) -> Tensor:
        with torch.no_grad():
            return self.inner.reward(batch, generator=generator)

    def update(self, expert: TransitionBatch, agent: TransitionBatch) -> dict[str, float]:
        raise RuntimeError("a frozen reward is never updated")

    def checkpoint(self) -> dict[str, Any]:
        return {"model": self.state_dict(), "num_updates": 0}

    def restore(self, checkpoint: Mapping[str, Any]) -> None:
        self.load_state_dict(checkpoint["model"])
        self.requires_grad_(False)


class PlanRewardModel(torch.nn.Module):
    """Diffuser-IRL's r_phi(s, a) behind the reward-model interface (raw observations)."""

    def __init__(self, plan_reward: torch.nn.Module):
        super().__init__()
        self.plan_reward = plan_reward

    def reward(self, batch: TransitionBatch, *, generator: GeneratorLike = None) -> Tensor:
        if batch.act is None:
            raise ValueError("Diffuser-IRL's reward reads actions")
        index = self.plan_reward.state_index
        obs = batch.obs.to(self.plan_reward.center)
        rows = torch.cat([obs[:, index], batch.act.to(obs)], dim=-1)
        return self.plan_reward.step_reward(rows)


@dataclass
class LearnedReward:
    """A run's reward, frozen, with the observation standardisation its inputs need."""

    model: FrozenReward
    scaler: dict[str, list[float]] | None  # {"mean", "std"}; None: raw observations
    task: str
    method: str
    source: Path

    def rewards(
        self,
        obs: np.ndarray,
        acts: np.ndarray,
        next_obs: np.ndarray,
        dones: np.ndarray | None = None,
        generator: torch.Generator | None = None,
    ) -> np.ndarray:
        """Rewards (N,) of raw transitions, as the learner gets them (``dones`` ends episodes:
        AIRL then leaves out gamma h(s'); None = no step ends one)."""
        obs = np.asarray(obs, dtype=np.float32)
        acts = np.asarray(acts, dtype=np.float32).reshape(len(obs), -1)
        batch = TransitionBatch.from_numpy(
            scale_obs(self.scaler, obs),
            None if self.model.config.obs_only else acts,
            scale_obs(self.scaler, np.asarray(next_obs, dtype=np.float32)),
            np.zeros(len(obs), dtype=np.float32) if dones is None else dones,
            None,
            device=self.model.device,
        )
        return self.model.reward(batch, generator=generator).double().cpu().numpy()

    def function(self) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
        """The reward as a RewardFunction ``(obs, acts, next_obs) -> (N,)`` of raw arrays (no
        step ends an episode; stochastic rewards draw from one generator seeded 0)."""
        generator = torch.Generator().manual_seed(0)
        return lambda obs, acts, next_obs: self.rewards(obs, acts, next_obs, None, generator)

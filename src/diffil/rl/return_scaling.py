"""Scaling learned rewards by the running spread of their discounted return.

A learned reward such as DRAIL's log D - log(1 - D) lives on a scale the reward model sets and
changes as it trains; the returns PPO's value function must fit can reach hundreds. PPO clips
the gradient norm of its summed policy and value loss, so a large value loss shrinks the policy's
step. Dividing the rewards by the running standard deviation of the discounted return (what
SB3's ``VecNormalize(norm_reward=True)`` does to environment rewards) keeps the returns near
unit scale. It is applied here, not by ``VecNormalize``, because the rewards are relabelled
after the rollout is collected.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.running_mean_std import RunningMeanStd


class ReturnScaler:
    """Divides rewards by the running std of the per-env discounted return, then clips them."""

    def __init__(self, n_envs: int, gamma: float, clip: float = 10.0, epsilon: float = 1e-8):
        self.gamma, self.clip, self.epsilon = gamma, clip, epsilon
        self.stats = RunningMeanStd(shape=())
        self.returns = np.zeros(n_envs)

    def __call__(self, rewards: np.ndarray, episode_ends: np.ndarray) -> np.ndarray:
        """Scale a rollout's ``rewards`` (n_steps, n_envs); ``episode_ends[t]`` marks the envs
        whose episode ended at step t (terminated or truncated), where the return restarts."""
        for reward, ended in zip(rewards, episode_ends, strict=True):
            self.returns = self.returns * self.gamma + reward
            self.stats.update(self.returns)
            self.returns[ended.astype(bool)] = 0.0
        scale = np.sqrt(self.stats.var + self.epsilon)
        return np.clip(rewards / scale, -self.clip, self.clip).astype(rewards.dtype)

    def state(self) -> dict[str, Any]:
        """JSON-serialisable state, for checkpoints."""
        return {
            "mean": float(self.stats.mean),
            "var": float(self.stats.var),
            "count": float(self.stats.count),
            "returns": self.returns.tolist(),
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.stats.mean = np.float64(state["mean"])
        self.stats.var = np.float64(state["var"])
        self.stats.count = float(state["count"])
        self.returns = np.asarray(state["returns"], dtype=np.float64)

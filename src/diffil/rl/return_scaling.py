"""Scaling learned rewards by the running spread of their discounted return.

A learned reward such as DRAIL's log D - log(1 - D) lives on a scale the reward model sets and
changes as it trains; the returns PPO's value function must fit can reach hundreds. PPO clips
the gradient norm of its summed policy and value loss, so a large value loss shrinks the policy's
step. Dividing the rewards by the running standard deviation of the discounted return (what
SB3's ``VecNormalize(norm_reward=True)`` does to environment rewards) keeps the returns near
unit scale. It is applied here, not by ``VecNormalize``, because the rewards are relabelled
after the rollout is collected.

With absorbing states, a true termination also earns the absorbing state's discounted tail,
gamma r(s_a) / (1 - gamma). The tail counts in the return statistics, and it is scaled as the sum
of its steps, each scaled and clipped like any other reward: clipping the tail itself would cut
many steps' worth of reward to one step's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.running_mean_std import RunningMeanStd

from diffil.rewards.absorbing import terminal_bonus


class ReturnScaler:
    """Divides rewards by the running std of the per-env discounted return, then clips them."""

    def __init__(self, n_envs: int, gamma: float, clip: float = 10.0, epsilon: float = 1e-8):
        self.gamma, self.clip, self.epsilon = gamma, clip, epsilon
        self.stats = RunningMeanStd(shape=())
        self.returns = np.zeros(n_envs)

    def __call__(
        self,
        rewards: np.ndarray,
        episode_ends: np.ndarray,
        terminated: np.ndarray | None = None,
        absorbing_reward: float = 0.0,
    ) -> np.ndarray:
        """Scale a rollout's ``rewards`` (n_steps, n_envs); ``episode_ends[t]`` marks the envs
        whose episode ended at step t (terminated or truncated), where the return restarts.
        ``terminated`` marks the true terminations that earn the tail of an absorbing state whose
        per-step reward is ``absorbing_reward``; the tail is added to the scaled rewards."""
        tails = np.zeros_like(rewards) if terminated is None else np.asarray(terminated, float)
        for reward, ended in zip(
            rewards + tails * terminal_bonus(absorbing_reward, self.gamma),
            episode_ends,
            strict=True,
        ):
            self.returns = self.returns * self.gamma + reward
            self.stats.update(self.returns)
            self.returns[ended.astype(bool)] = 0.0
        scale = np.sqrt(self.stats.var + self.epsilon)
        scaled = np.clip(rewards / scale, -self.clip, self.clip)
        scaled_absorbing = float(np.clip(absorbing_reward / scale, -self.clip, self.clip))
        scaled = scaled + tails * terminal_bonus(scaled_absorbing, self.gamma)
        return scaled.astype(rewards.dtype)

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

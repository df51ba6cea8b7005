"""A VecEnv wrapper that records the raw transitions of every step, for reward relabelling.

It sits directly around the environments (inside observation normalisation), so the recorded
observations are the raw ones the demonstrations are made of, and the recorded actions are the
clipped ones the environments executed. ``next_obs`` is the true final observation where an
episode ended (not the first observation of the next episode).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper


@dataclass
class RecordedSteps:
    """Arrays shaped (n_steps, n_envs, ...), aligned with an SB3 rollout buffer."""

    obs: np.ndarray
    actions: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    env_rewards: np.ndarray

    def flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(obs, actions, next_obs, terminated) with the step and env axes merged."""

        def merge(a: np.ndarray) -> np.ndarray:
            return a.reshape(-1, *a.shape[2:])

        return merge(self.obs), merge(self.actions), merge(self.next_obs), merge(self.terminated)


class TransitionRecorder(VecEnvWrapper):
    """Keeps (s, a, s', terminated, env reward) of every step until :meth:`take` collects them."""

    def __init__(self, venv: VecEnv):
        super().__init__(venv)
        self._last_obs: np.ndarray | None = None
        self._actions: np.ndarray | None = None
        self._steps: list[tuple[np.ndarray, ...]] = []

    def reset(self) -> np.ndarray:
        self._last_obs = self.venv.reset()
        return self._last_obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)
        self.venv.step_async(actions)

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        next_obs = obs.copy()
        terminated = np.zeros(len(dones), dtype=bool)
        for i, done in enumerate(dones):
            if done:
                next_obs[i] = infos[i]["terminal_observation"]
                terminated[i] = not infos[i].get("TimeLimit.truncated", False)
        assert self._last_obs is not None and self._actions is not None
        self._steps.append((self._last_obs, self._actions, next_obs, terminated, rewards.copy()))
        self._last_obs = obs
        return obs, rewards, dones, infos

    def take(self, n_steps: int) -> RecordedSteps:
        """The last ``n_steps`` steps (the rollout just collected); older ones are dropped."""
        if len(self._steps) < n_steps:
            raise RuntimeError(f"recorded {len(self._steps)} steps, rollout needs {n_steps}")
        steps, self._steps = self._steps[-n_steps:], []
        obs, actions, next_obs, terminated, rewards = (
            np.stack(x) for x in zip(*steps, strict=True)
        )
        return RecordedSteps(obs, actions, next_obs, terminated, rewards)

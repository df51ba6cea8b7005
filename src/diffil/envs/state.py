"""Putting a simulator into the state a flat observation describes, and replaying actions from it.

Used to check that a trajectory is consistent with the simulator's dynamics: set the first state,
replay the actions, and compare the observations (:meth:`Replayer.replay`). Each family of tasks
sets its state its own way:

* mazes (PointMaze): the observation ``(x, y, vx, vy, gx, gy)`` is the point's ``qpos`` and
  ``qvel`` and the goal, so it describes the state completely;
* MuJoCo environments whose observation begins with ``qpos[k:]`` and ``qvel`` (locomotion:
  hopper, walker2d and halfcheetah leave out ``k = 1`` coordinate, the x position; ant ``k = 2``,
  x and y): the left-out coordinates are set to 0, which changes nothing the task observes or
  rewards (the dynamics do not depend on them). The layout is verified on the live environment,
  not assumed, so an environment whose observation does not begin that way is refused.

Any other task cannot be put into a given state: :func:`state_setter` raises a one-line
:class:`~diffil.errors.DiffilError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from diffil.data.trajectory import SUCCESS_INFO_KEYS
from diffil.envs.task import TaskSpec
from diffil.errors import DiffilError

#: Puts an environment (already reset once) into the state of a flat observation.
StateSetter = Callable[[gym.Env, np.ndarray], None]


def _set_maze_state(env: gym.Env, obs: np.ndarray) -> None:
    base = env.unwrapped
    base.point_env.set_state(np.array(obs[0:2], np.float64), np.array(obs[2:4], np.float64))
    base.goal = np.array(obs[4:6], np.float64)
    base.update_target_site_pos()


def _qpos_offset(env: gym.Env) -> int | None:
    """The ``k`` for which observations begin with ``qpos[k:]`` then ``qvel``, or None.

    Checked on the live environment after a reset and after one random step; velocities may be
    clipped in the observation (hopper and walker2d clip them to [-10, 10]).
    """
    base = env.unwrapped
    data = getattr(base, "data", None)
    if data is None or not hasattr(data, "qpos") or not hasattr(data, "qvel"):
        return None
    env.action_space.seed(0)
    obs_list = [np.asarray(env.reset(seed=0)[0], np.float64)]
    states = [(data.qpos.copy(), data.qvel.copy())]
    obs_list.append(np.asarray(env.step(env.action_space.sample())[0], np.float64))
    states.append((data.qpos.copy(), data.qvel.copy()))
    nq, nv = len(states[0][0]), len(states[0][1])
    for k in (0, 1, 2):
        n = nq - k + nv
        if all(
            obs.ndim == 1
            and len(obs) >= n
            and np.allclose(obs[: nq - k], qpos[k:])
            and any(np.allclose(obs[nq - k : n], v) for v in (qvel, np.clip(qvel, -10, 10)))
            for obs, (qpos, qvel) in zip(obs_list, states, strict=True)
        ):
            return k
    return None


def _mujoco_setter(k: int, nq: int) -> StateSetter:
    def set_state(env: gym.Env, obs: np.ndarray) -> None:
        obs = np.asarray(obs, np.float64)
        qpos = np.concatenate([np.zeros(k), obs[: nq - k]])
        qvel = obs[nq - k : nq - k + env.unwrapped.model.nv]
        env.unwrapped.set_state(qpos, qvel)

    return set_state


def state_setter(task: TaskSpec, env: gym.Env) -> StateSetter:
    """How to put ``env`` (of ``task``) into the state of a flat observation; raises
    :class:`DiffilError` if the task's state cannot be set from its observations."""
    if task.family == "maze":
        return _set_maze_state
    k = _qpos_offset(env)
    if k is None:
        raise DiffilError(
            f"cannot set the simulator state of task {task.name!r} from its observations",
            "augmentation checks dynamics on mazes and MuJoCo tasks whose observations hold "
            "qpos and qvel (hopper, halfcheetah, walker2d, ant)",
        )
    return _mujoco_setter(k, int(env.unwrapped.model.nq))


@dataclass
class Replay:
    """What the simulator did with a sequence of actions from a set start state."""

    observations: np.ndarray  # (n + 1, obs_dim): the start, then one row per step taken
    rewards: np.ndarray  # (n,)
    terminations: np.ndarray  # (n,)
    truncations: np.ndarray  # (n,)
    successes: np.ndarray | None  # (n,) the task's success flag, None if it has none

    @property
    def steps(self) -> int:
        return len(self.rewards)

    @property
    def ended(self) -> bool:
        return bool(self.steps and (self.terminations[-1] or self.truncations[-1]))


class Replayer:
    """One environment of ``task`` that replays action sequences from set states.

    :meth:`start` puts it into the state of an observation (after a reset, so time limits
    restart); :meth:`step_actions` then applies actions (clipped to the action space) until they
    run out or the episode ends, and can be called again to continue.
    """

    def __init__(self, task: TaskSpec, seed: int = 0) -> None:
        self.task = task
        self.env = task.make_env()
        self.set_state = state_setter(task, self.env)
        self.seed = seed
        self.low, self.high = self.env.action_space.low, self.env.action_space.high

    def close(self) -> None:
        self.env.close()

    def __enter__(self) -> Replayer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, obs: np.ndarray) -> np.ndarray:
        """Reset, then set the state of ``obs``; returns the observation the env now gives."""
        self.env.reset(seed=self.seed)
        self.set_state(self.env, np.asarray(obs))
        base = self.env.unwrapped
        if self.task.family == "maze":
            raw = base._get_obs(base.point_env._get_obs()[0])
            return np.asarray(self.task.flatten_obs(raw), np.float64)
        return np.asarray(base._get_obs(), np.float64)

    def reset(self, seed: int) -> np.ndarray:
        """A fresh start of the task (its own reset distribution), seeded; its observation."""
        obs, _ = self.env.reset(seed=seed)
        return np.asarray(obs, np.float64)

    def replay(self, start: np.ndarray, actions: np.ndarray) -> Replay:
        """What the simulator does with ``actions`` from the state of ``start``."""
        return self.step_actions(actions, self.start(start))

    def step_actions(self, actions: np.ndarray, first_obs: np.ndarray) -> Replay:
        """Apply ``actions`` (clipped) from the current state, whose observation is
        ``first_obs``; stops early when the episode ends."""
        observations = [np.asarray(first_obs, np.float64)]
        rewards, terms, truncs, successes = [], [], [], []
        for action in np.asarray(actions):
            obs, reward, terminated, truncated, info = self.env.step(
                np.clip(action, self.low, self.high)
            )
            observations.append(np.asarray(obs, np.float64))
            rewards.append(float(reward))
            terms.append(bool(terminated))
            truncs.append(bool(truncated))
            key = next((k for k in SUCCESS_INFO_KEYS if k in info), None)
            successes.append(bool(info[key]) if key is not None else None)
            if terminated or truncated:
                break
        has_success = self.task.success_key is not None and all(s is not None for s in successes)
        return Replay(
            observations=np.asarray(observations),
            rewards=np.asarray(rewards, np.float64),
            terminations=np.asarray(terms, bool),
            truncations=np.asarray(truncs, bool),
            successes=np.asarray(successes, bool) if has_success else None,
        )

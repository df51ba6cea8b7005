"""Flat observation vectors from an environment's own observations.

diffil's policies and reward models read flat float vectors. A goal-conditioned dict
``{observation, achieved_goal, desired_goal}`` (the mazes, gymnasium-robotics, Minari's goal
datasets) becomes ``(observation..., desired_goal...)``; any other dict of boxes is the
concatenation of its entries in the space's key order; a box of several dimensions is raveled.
The same functions flatten single observations and ``(T, ...)`` stacks read from a dataset.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from diffil.errors import DiffilError

Flatten = Callable[[Any], np.ndarray]
_GOAL_KEYS = {"observation", "desired_goal"}


def flatten_goal_observation(observation: dict[str, np.ndarray]) -> np.ndarray:
    """``(observation..., desired_goal...)``; works on single observations and (T, ·) stacks."""
    return np.concatenate(
        [np.asarray(observation["observation"]), np.asarray(observation["desired_goal"])], axis=-1
    ).astype(np.float64)


def _flatten_entries(
    observation: dict[str, np.ndarray], shapes: dict[str, tuple[int, ...]]
) -> np.ndarray:
    parts = []
    for key, shape in shapes.items():
        value = np.asarray(observation[key])
        batch = value.shape[: value.ndim - len(shape)]  # () for one observation, (T,) for a stack
        parts.append(value.reshape(*batch, -1))
    return np.concatenate(parts, axis=-1).astype(np.float64)


def _ravel_box(observation: Any, ndim: int) -> np.ndarray:
    value = np.asarray(observation, dtype=np.float64)
    return value.reshape(*value.shape[: value.ndim - ndim], -1)


def observation_flattener(space: gym.Space, env_name: str) -> Flatten | None:
    """How to flatten observations of ``space``: None if they are flat vectors already."""
    if isinstance(space, gym.spaces.Box):
        return (
            None if len(space.shape) == 1 else functools.partial(_ravel_box, ndim=len(space.shape))
        )
    if isinstance(space, gym.spaces.Dict) and all(
        isinstance(s, gym.spaces.Box) for s in space.spaces.values()
    ):
        if set(space.spaces) >= _GOAL_KEYS:
            return flatten_goal_observation
        shapes = {key: s.shape for key, s in space.spaces.items()}
        return functools.partial(_flatten_entries, shapes=shapes)
    raise DiffilError(
        f"diffil needs box (or dict of box) observations; {env_name} has {space}",
        "wrap the environment so it observes a vector (see diffil.register_task)",
    )


class FlattenObservation(gym.ObservationWrapper):
    """Observations as flat float64 vectors, made by a function of :func:`observation_flattener`."""

    def __init__(self, env: gym.Env, flatten: Flatten):
        super().__init__(env)
        self._flatten = flatten
        dim = flatten(env.observation_space.sample()).shape[-1]
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (dim,), np.float64)

    def observation(self, observation: Any) -> np.ndarray:
        return self._flatten(observation)


class FlattenGoalObservation(FlattenObservation):
    """Dict goal observation -> flat ``(observation..., desired_goal...)`` float64 vector."""

    def __init__(self, env: gym.Env):
        super().__init__(env, flatten_goal_observation)

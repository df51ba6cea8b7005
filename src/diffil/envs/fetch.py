"""Fetch manipulation tasks (gymnasium-robotics Fetch v4): ``fetch-push`` and
``fetch-pick-and-place``.

The dict observation ``{observation (25), achieved_goal (3), desired_goal (3)}`` becomes the flat
vector ``(observation..., desired_goal...)`` (28 numbers; :mod:`diffil.envs.observations`).
``observation`` is gymnasium-robotics' layout: gripper position (0:3), block position (3:6),
block relative to gripper (6:9), finger positions (9:11), block rotation (11:14), block linear
and angular velocity (14:20), gripper velocity (20:23), finger velocities (23:25). Actions are
``(dx, dy, dz, gripper)`` in [-1, 1] (5 cm per unit; FetchPush keeps the fingers closed,
FetchPickAndPlace opens them for gripper > 0). The reward is sparse (0 at the goal, -1
elsewhere). Pick-and-place goals are in the air half the time (up to 45 cm above the table).

An episode ends (``terminated``) at the first step with the block within 5 cm of the goal
(``info["is_success"]``), or after 50 steps; success is ``info["is_success"]`` on the last step,
reported as ``info["success"]`` by :class:`~diffil.envs.episode_success.EpisodeEndSuccess`.
Reference 000's Push demonstrations end at success too (664 episodes, 20,311 pairs: about 31
steps each in 60-step episodes). With episodes that ran on to the time limit, the scripted
expert's demonstrations were about half standing still at the goal, and BC from 664 of them
reached 36% success (judged at step 50) against 71% with demonstrations that end at success
(judged at the goal; seed 0, 100 episodes each, measured by hand on 2026-12-02).

The noise variant scales the ranges the block's start and the goal are drawn from (0.15 m around
the gripper's start by default; the generalisation axis of the DRAIL paper's Push results,
1.0-2.0x). Beyond about 1.1x the far edge of the table lies inside those ranges: draws that put
the block or the goal off the table are redrawn (:class:`KeepOnTable`), so every episode can be
solved. Below 0.75x gymnasium-robotics' own block sampling (at least 10 cm from the gripper)
would hardly ever finish, so smaller scales are refused.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import mujoco
import numpy as np

from diffil.envs.compat import patch_joint_type_checks
from diffil.envs.episode_success import EndOnSuccess, EpisodeEndSuccess
from diffil.envs.maze import _register_gymnasium_robotics
from diffil.envs.observations import FlattenGoalObservation, flatten_goal_observation
from diffil.envs.task import ReferenceScores, TaskSpec

SAMPLING_RANGE = 0.15  # gymnasium-robotics' obj_range and target_range for Push, in metres
MIN_NOISE = 0.75
_MAX_REDRAWS = 1000


def _body_box(model: mujoco.MjModel, body: str) -> tuple[np.ndarray, np.ndarray]:
    """Centre and half-sizes of the first (box) geom of ``body``, in the model's initial pose."""
    body_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, body)
    geom = int(np.flatnonzero(model.geom_bodyid == body_id)[0])
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    return data.geom_xpos[geom].copy(), model.geom_size[geom].copy()


class KeepOnTable(gym.Wrapper):
    """Redraws resets whose block or goal would lie off the table (the env's own RNG draws
    again, so seeded resets stay reproducible)."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        model = env.unwrapped.model
        centre, half = _body_box(model, "table0")
        _, block = _body_box(model, "object0")
        self._low = centre[:2] - half[:2] + block[:2]
        self._high = centre[:2] + half[:2] - block[:2]

    def on_table(self, xy: np.ndarray) -> bool:
        return bool(np.all(xy >= self._low) and np.all(xy <= self._high))

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        for _ in range(_MAX_REDRAWS):
            if self.on_table(obs["observation"][3:5]) and self.on_table(obs["desired_goal"][:2]):
                return obs, info
            obs, info = self.env.reset(options=options)
        raise RuntimeError("no reset with the block and the goal on the table")


def unflatten_fetch_observation(flat: np.ndarray) -> dict[str, np.ndarray]:
    """Inverse of :func:`flatten_goal_observation` for Fetch (achieved goal = block position)."""
    flat = np.asarray(flat)
    return {
        "achieved_goal": flat[..., 3:6].copy(),
        "desired_goal": flat[..., 25:28].copy(),
        "observation": flat[..., 0:25].copy(),
    }


def _is_success_at_end(terminated: bool, truncated: bool, info: dict[str, Any]) -> bool:
    return bool(info["is_success"])


def _build_fetch(spec: TaskSpec, evaluation: bool = False, render_mode: str | None = None):
    _register_gymnasium_robotics()
    patch_joint_type_checks()
    env = gym.make(
        spec.env_id,
        max_episode_steps=spec.max_episode_steps,
        render_mode=render_mode,
        **spec.env_kwargs,
    )
    base = env.unwrapped
    base.obj_range = SAMPLING_RANGE * spec.noise
    base.target_range = SAMPLING_RANGE * spec.noise
    env = KeepOnTable(env)
    env = EndOnSuccess(env, "is_success")
    env = EpisodeEndSuccess(env, _is_success_at_end)
    return FlattenGoalObservation(env)


# Mean returns of uniform random actions and of the scripted expert over 100 evaluation episodes:
# benchmarks/task_costs.py.
_MEASURED = "benchmarks/results/task_costs.md"
FETCH = {
    "fetch-push": (
        "FetchPush-v4",
        50,
        ReferenceScores(-47.5, -20.4, _MEASURED),
        "push the block within 5 cm of the goal",
    ),
    "fetch-pick-and-place": (
        "FetchPickAndPlace-v4",
        50,
        ReferenceScores(-47.0, -18.4, _MEASURED),
        "pick the block up and hold it within 5 cm of the goal (on the table or in the air)",
    ),
}


def fetch_tasks() -> list[TaskSpec]:
    """The built-in Fetch tasks."""
    return [
        TaskSpec(
            name=name,
            env_id=env_id,
            family="fetch",
            max_episode_steps=horizon,
            builder=_build_fetch,
            env_kwargs={"reward_type": "sparse"},
            success_key="success",
            flatten_obs=flatten_goal_observation,
            unflatten_obs=unflatten_fetch_observation,
            reference=reference,
            description=f"{env_id}: {goal}; the episode ends there",
            min_noise=MIN_NOISE,
        )
        for name, (env_id, horizon, reference, goal) in FETCH.items()
    ]

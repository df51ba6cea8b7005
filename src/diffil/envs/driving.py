"""Driving tasks on highway-env: ``highway`` and ``merge`` (``pip install 'diffil[driving]'``).

Both use continuous actions ``(acceleration, steering)`` in [-1, 1] (highway-env maps them to
±5 m/s² and ±45°), kinematics observations (presence, x, y, vx, vy of the ego car and its 4
nearest vehicles, relative and normalised: 25 numbers, raveled), a simulation at 10 Hz and a
policy at 5 Hz, and episodes that end when the car leaves the road. These settings cost a few ms
per step, against 15-160 ms at highway-env's defaults (benchmarks/task_costs.py).

* ``highway``: ``highway-v0`` with 4 lanes and 20 other vehicles, 30 s (150 steps). Success: no
  crash and still on the road when time runs out.
* ``merge``: ``merge-v0`` (a highway with a merging ramp), through
  :class:`~diffil.envs.highway_merge.ContinuousMergeEnv` (its reward fails on continuous actions
  and it has no time limit: 30 s, 150 steps, here). Success: reaching the end of the road
  (x > 370 m) without a crash or leaving the road.

Each step's info carries ``speed``, ``crashed``, ``on_road`` and ``lane_change`` (the ego car's
lane changed on this step); evaluations report the collision rate, mean speed and lane changes
per episode (:func:`driving_metrics`). Reset noise has no meaning here: ``--noise`` is refused.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from diffil.envs.episode_success import EpisodeEndSuccess
from diffil.envs.observations import FlattenObservation, observation_flattener
from diffil.envs.task import ReferenceScores, TaskSpec
from diffil.errors import DiffilError

if TYPE_CHECKING:
    from diffil.data.trajectory import Trajectory

INSTALL_HINT = "install highway-env: pip install 'diffil[driving]' (or pip install highway-env)"
SIMULATION_HZ = 10
POLICY_HZ = 5
CONFIG: dict[str, Any] = {
    "action": {"type": "ContinuousAction"},  # [acceleration, steering]
    "observation": {"type": "Kinematics"},
    "simulation_frequency": SIMULATION_HZ,
    "policy_frequency": POLICY_HZ,
    "offroad_terminal": True,
}


def _import_highway_env() -> None:
    try:
        import highway_env  # noqa: F401  (registers highway-v0, merge-v0)
    except ImportError:
        raise DiffilError(
            "the driving tasks need highway-env, which is not installed", INSTALL_HINT
        ) from None


class DrivingInfo(gym.Wrapper):
    """Adds ``on_road`` and ``lane_change`` (the ego car's lane changed) to each step's info."""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._lane = self._lane_id()
        return obs, info

    def _lane_id(self) -> int:
        return int(self.env.unwrapped.vehicle.lane_index[2])

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        lane = self._lane_id()
        info = {
            **info,
            "speed": float(info["speed"]),
            "crashed": bool(info["crashed"]),
            "on_road": bool(self.env.unwrapped.vehicle.on_road),
            "lane_change": lane != self._lane,
        }
        self._lane = lane
        return obs, reward, terminated, truncated, info


def _unharmed(info: dict[str, Any]) -> bool:
    return not info["crashed"] and info["on_road"]


def _survived_time_limit(terminated: bool, truncated: bool, info: dict[str, Any]) -> bool:
    return truncated and not terminated and _unharmed(info)


def _reached_end(terminated: bool, truncated: bool, info: dict[str, Any]) -> bool:
    return terminated and _unharmed(info)  # merge-v0 ends unharmed only past the ramp


def driving_metrics(trajectory: Trajectory) -> dict[str, float]:
    """Collision (0/1), mean speed (m/s) and number of lane changes of one episode."""
    infos = trajectory.infos
    return {
        "collision": float(np.any(infos["crashed"])),
        "mean_speed": float(np.mean(infos["speed"])),
        "lane_changes": float(np.sum(infos["lane_change"])),
    }


def _make_raw(spec: TaskSpec, render_mode: str | None) -> gym.Env:
    config = {**CONFIG, **spec.env_kwargs}
    if spec.env_id == "merge-v0":
        from diffil.envs.highway_merge import ContinuousMergeEnv

        env: gym.Env = ContinuousMergeEnv(config=config, render_mode=render_mode)
        return gym.wrappers.TimeLimit(env, spec.max_episode_steps)
    # the env's own limit, in seconds; its clock adds up 1/POLICY_HZ steps in floating point and
    # may stop one step late, so the TimeLimit wrapper ends the episode at exactly the horizon
    config["duration"] = spec.max_episode_steps / POLICY_HZ
    return gym.make(
        spec.env_id,
        config=config,
        render_mode=render_mode,
        max_episode_steps=spec.max_episode_steps,
    )


def _build_driving(
    spec: TaskSpec, judge: Any, evaluation: bool = False, render_mode: str | None = None
) -> gym.Env:
    _import_highway_env()
    env = DrivingInfo(_make_raw(spec, render_mode))
    env = EpisodeEndSuccess(env, judge)
    flatten = observation_flattener(env.observation_space, spec.env_id)
    return env if flatten is None else FlattenObservation(env, flatten)


# Mean returns of uniform random actions and of the IDM + MOBIL expert over evaluation episodes
# (30 episodes each):
# benchmarks/task_costs.py.
_MEASURED = "benchmarks/results/task_costs.md"
DRIVING = {
    "highway": (
        "highway-v0",
        150,
        {"lanes_count": 4, "vehicles_count": 20},
        _survived_time_limit,
        ReferenceScores(2.2, 113.4, _MEASURED),
        "4 lanes, 20 vehicles, 30 s; success = no crash and on the road at the time limit",
    ),
    "merge": (
        "merge-v0",
        150,
        {},
        _reached_end,
        ReferenceScores(2.4, 68.0, _MEASURED),
        "merging ramp; success = reaching the end of the road without a crash",
    ),
}


def driving_tasks() -> list[TaskSpec]:
    """The built-in driving tasks (made without importing highway-env)."""
    return [
        TaskSpec(
            name=name,
            env_id=env_id,
            family="driving",
            max_episode_steps=horizon,
            builder=functools.partial(_build_driving, judge=judge),
            env_kwargs=kwargs,
            success_key="success",
            reference=reference,
            description=f"{env_id} with continuous actions, {description}",
            noise_variants=False,
            episode_metrics=driving_metrics,
        )
        for name, (env_id, horizon, kwargs, judge, reference, description) in DRIVING.items()
    ]

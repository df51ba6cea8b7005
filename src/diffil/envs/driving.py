"""Driving tasks on highway-env: ``highway``, ``merge`` and ``parking``
(``pip install 'diffil[driving]'``).

All three use continuous actions ``(acceleration, steering)`` in [-1, 1] (highway-env maps them
to ±5 m/s² and ±45°). ``highway`` and ``merge`` use kinematics observations (presence, x, y, vx,
vy of the ego car and its 4 nearest vehicles, relative and normalised: 25 numbers, raveled), a
simulation at 10 Hz and a policy at 5 Hz, and episodes that end when the car leaves the road.
These settings cost a few ms per step, against 15-160 ms at highway-env's defaults
(benchmarks/task_costs.py).

* ``highway``: ``highway-v0`` with 4 lanes and 20 other vehicles, 30 s (150 steps). Success: no
  crash and still on the road when time runs out.
* ``merge``: ``merge-v0`` (a highway with a merging ramp), through
  :class:`~diffil.envs.highway_merge.ContinuousMergeEnv` (its reward fails on continuous actions
  and it has no time limit: 30 s, 150 steps, here). Success: reaching the end of the road
  (x > 370 m) without a crash or leaving the road. Reaching it truncates the episode (a crash or
  leaving the road terminates it), so that success and failure never share an ending.
* ``parking``: ``parking-v0`` (goal-conditioned) at its own settings (15 Hz simulation, 5 Hz
  policy, walls around the lot, no other cars), 40 s (200 steps). The car starts in the middle
  of the aisle at a random heading and must drive into a random one of 28 spots, nose first.
  Observation: the car's and the goal's ``x, y, vx, vy, cos h, sin h`` (scaled by highway-env;
  12 numbers). Success: ``is_success`` (the pose close enough to the goal's, which ends the
  episode) without a crash.

Each step's info carries ``speed`` and ``crashed``, and on highway and merge ``on_road`` and
``lane_change`` (the ego car's lane changed on this step); evaluations report the collision
rate and mean speed per episode, and lane changes on the roads (:func:`driving_metrics`). Reset
noise has no meaning here: ``--noise`` is refused.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

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
ROAD_CONFIG: dict[str, Any] = {  # highway and merge
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
    """Each step's info as plain ``speed`` and ``crashed`` and, on a road (``lanes``), adds
    ``on_road`` and ``lane_change`` (the ego car's lane changed)."""

    def __init__(self, env: gym.Env, lanes: bool = True):
        super().__init__(env)
        self.lanes = lanes

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self._lane = self._lane_id() if self.lanes else 0
        return obs, info

    def _lane_id(self) -> int:
        return int(self.env.unwrapped.vehicle.lane_index[2])

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = {**info, "speed": float(info["speed"]), "crashed": bool(info["crashed"])}
        if self.lanes:
            lane = self._lane_id()
            info["on_road"] = bool(self.env.unwrapped.vehicle.on_road)
            info["lane_change"] = lane != self._lane
            self._lane = lane
        return obs, reward, terminated, truncated, info


def _unharmed(info: dict[str, Any]) -> bool:
    return not info["crashed"] and info["on_road"]


def _survived_time_limit(terminated: bool, truncated: bool, info: dict[str, Any]) -> bool:
    return truncated and not terminated and _unharmed(info)


def _reached_end(terminated: bool, truncated: bool, info: dict[str, Any]) -> bool:
    # diffil's merge truncates at the road's end (highway_merge.py); the time limit also truncates
    return truncated and not terminated and bool(info["road_end"]) and _unharmed(info)


def _parked(terminated: bool, truncated: bool, info: dict[str, Any]) -> bool:
    return bool(info["is_success"]) and not info["crashed"]


def driving_metrics(trajectory: Trajectory) -> dict[str, float]:
    """Collision (0/1), mean speed (m/s) and, on a road, the number of lane changes of one
    episode."""
    infos = trajectory.infos
    metrics = {
        "collision": float(np.any(infos["crashed"])),
        "mean_speed": float(np.mean(np.abs(infos["speed"]))),
    }
    if "lane_change" in infos:
        metrics["lane_changes"] = float(np.sum(infos["lane_change"]))
    return metrics


def _make_raw(spec: TaskSpec, render_mode: str | None) -> gym.Env:
    config = dict(spec.env_kwargs)
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
    spec: TaskSpec,
    judge: Any,
    lanes: bool,
    evaluation: bool = False,
    render_mode: str | None = None,
) -> gym.Env:
    _import_highway_env()
    env = DrivingInfo(_make_raw(spec, render_mode), lanes=lanes)
    env = EpisodeEndSuccess(env, judge)
    flatten = observation_flattener(env.observation_space, spec.env_id)
    return env if flatten is None else FlattenObservation(env, flatten)


# Mean returns of uniform random actions and of the expert (IDM + MOBIL; parking: Dubins paths)
# over evaluation episodes (highway, merge: 30 each; parking: 100): benchmarks/task_costs.py.
_MEASURED = "benchmarks/results/task_costs.md"


class _DrivingTask(NamedTuple):
    env_id: str
    horizon: int  # policy steps (5 per second)
    config: dict[str, Any]  # highway-env's config
    judge: Callable[[bool, bool, dict[str, Any]], bool]  # success at the episode's end
    reference: ReferenceScores
    description: str
    lanes: bool = True  # a road: on_road and lane changes mean something
    ends_on_success: bool = True  # False: success is judged at the time limit


DRIVING = {
    "highway": _DrivingTask(
        "highway-v0",
        150,
        {**ROAD_CONFIG, "lanes_count": 4, "vehicles_count": 20},
        _survived_time_limit,
        ReferenceScores(2.2, 113.4, _MEASURED),
        "4 lanes, 20 vehicles, 30 s; success = no crash and on the road at the time limit",
        ends_on_success=False,
    ),
    "merge": _DrivingTask(
        "merge-v0",
        150,
        dict(ROAD_CONFIG),
        _reached_end,
        ReferenceScores(2.4, 68.0, _MEASURED),
        "merging ramp; success = reaching the end of the road without a crash",
    ),
    "parking": _DrivingTask(
        "parking-v0",
        200,
        {"action": {"type": "ContinuousAction"}, "policy_frequency": POLICY_HZ},
        _parked,
        ReferenceScores(-45.5, -21.3, _MEASURED),
        "a 28-spot lot, random start heading and spot, 40 s; success = in the spot (position "
        "and heading) without a crash",
        lanes=False,
    ),
}


def driving_tasks() -> list[TaskSpec]:
    """The built-in driving tasks (made without importing highway-env)."""
    return [
        TaskSpec(
            name=name,
            env_id=task.env_id,
            family="driving",
            max_episode_steps=task.horizon,
            builder=functools.partial(_build_driving, judge=task.judge, lanes=task.lanes),
            env_kwargs=task.config,
            success_key="success",
            ends_on_success=task.ends_on_success,
            reference=task.reference,
            description=f"{task.env_id} with continuous actions, {task.description}",
            noise_variants=False,
            episode_metrics=driving_metrics,
        )
        for name, task in DRIVING.items()
    ]

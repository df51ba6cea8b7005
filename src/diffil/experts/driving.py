"""The driving expert: highway-env's own driver model (IDM + MOBIL) in the ego car's place.

highway-env's traffic is made of :class:`~highway_env.vehicle.behavior.IDMVehicle` s: the
Intelligent Driver Model chooses the acceleration from the gap to the car ahead, MOBIL decides
lane changes from the accelerations they would bring, and a steering controller follows the
chosen lane. At each policy step this expert places such a vehicle (a *shadow*, kept across steps
so its lane-change decisions and timer persist) at the ego car's position, heading and speed,
asks it what it would do, and converts its acceleration and steering into the task's continuous
action (the ranges of highway-env's ContinuousAction, clipped to [-1, 1]).

It reads the simulator, not the observation: :func:`diffil.data.collect.rollout` hands it the
environment first (``attach(env)``), so it drives only environments it was attached to.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from diffil.errors import DiffilError


class IDMDriverExpert:
    """``obs -> (acceleration, steering)`` of an IDM + MOBIL driver in the ego car's place."""

    name = "highway-idm-mobil"

    def __init__(self, target_speed: float | None = None):
        self.target_speed = target_speed  # None: the ego car's speed at the episode's start
        self._env: Any = None
        self._shadow: Any = None
        self._road: Any = None

    def attach(self, env: gym.Env) -> None:
        """Drive ``env`` (a driving task's environment) from now on."""
        self._env = env.unwrapped
        self._shadow = self._road = None

    def _shadow_for(self, ego: Any, road: Any) -> Any:
        from highway_env.vehicle.behavior import IDMVehicle

        if self._road is not road:  # a new episode: a new road and a new shadow
            speed = ego.speed if self.target_speed is None else self.target_speed
            self._shadow = IDMVehicle(
                road, ego.position, ego.heading, ego.speed, target_speed=speed
            )
            self._road = road
        else:
            self._shadow.timer += 1.0 / self._env.config["policy_frequency"]
        shadow = self._shadow
        shadow.position = np.array(ego.position, dtype=float)
        shadow.heading, shadow.speed = ego.heading, ego.speed
        shadow.crashed = False
        shadow.on_state_update()
        return shadow

    def act(self) -> np.ndarray:
        """The action for the attached environment's current state."""
        if self._env is None:
            raise DiffilError(
                "the driving expert reads the simulator: attach it to an environment first",
                "use it through diffil.collect / evaluate_policy, or call expert.attach(env)",
            )
        env = self._env
        ego, road = env.vehicle, env.road
        shadow = self._shadow_for(ego, road)
        index = road.vehicles.index(ego)
        road.vehicles[index] = shadow  # the others see the shadow where the ego car is
        try:
            shadow.act()
        finally:
            road.vehicles[index] = ego
        action_type = env.action_type
        acceleration = np.interp(
            shadow.action["acceleration"], action_type.acceleration_range, [-1.0, 1.0]
        )
        steering = np.interp(shadow.action["steering"], action_type.steering_range, [-1.0, 1.0])
        return np.array([acceleration, steering], dtype=np.float32)

    def __call__(self, observation: np.ndarray) -> np.ndarray:
        if np.ndim(observation) != 1:
            raise DiffilError(
                "the driving expert acts on one environment at a time",
                "roll it out with diffil.collect (one environment)",
            )
        return self.act()

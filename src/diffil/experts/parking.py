"""Scripted parking expert for ``parking``: plan a Dubins path to the spot's entrance, drive in.

highway-env moves the car with a kinematic bicycle model whose centre of mass sits in the middle
of a 5 m car. The car's rear end then moves along its heading and turns on a circle of radius
``5 / tan(steering angle)`` (5.0 m at full lock), so its paths are Dubins paths
(:mod:`diffil.experts.dubins`). At each step, from the observation alone (no memory), the expert:

* **drives in** when the car is on the spot's run-in (the last ``run_in`` metres of its centre
  line, nearly aligned): it steers back to the line and goes on at ``run_in_speed`` until the
  episode ends at the goal;
* **plans** otherwise: the shortest Dubins path of the rear end to the start of the run-in (at
  several turning radii, and up to ``offset`` beside the line, so that a step that ends a little
  late still has a path), keeping both ends of the car inside the walls; or first reverses
  (2-8 m, straight or at full lock) when that makes the whole path shorter by more than a change
  of direction is worth. It takes the first 0.2 s of the best plan.

The episode ends as soon as the car's pose is close enough to the goal (``is_success``); the car
need not stop. 99% success over 100 evaluation episodes of 40 s, without a crash
(``benchmarks/task_costs.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffil.experts.dubins import (
    Pose,
    Segment,
    dubins_path,
    path_length,
    path_poses,
    segment_poses,
)
from diffil.experts.scripted import ScriptedExpert

OBSERVATION_SCALES = np.array([100.0, 100.0, 5.0, 5.0, 1.0, 1.0])  # parking-v0's KinematicsGoal
CAR_LENGTH = 5.0  # highway-env's Vehicle.LENGTH; the centre of mass is in the middle
MAX_STEERING = np.pi / 4  # a steering action of 1
POLICY_PERIOD = 0.2  # seconds per step (5 Hz)
MAX_ACCELERATION = 5.0  # m/s² for an acceleration action of 1
# the walls of parking-v0 stand at |x| = 35 and |y| = 21 (1 m thick); the ends of the car keep
# clear of them by a bit more than its half width
LOT_HALF_WIDTH, LOT_HALF_DEPTH = 33.0, 19.0


@dataclass
class ParkingExpertConfig:
    radius: float = 7.0  # preferred turning radius of a plan (m)
    min_radius: float = 5.3  # the tightest radius planned (the car can turn at 5.0 m)
    run_in: float = 6.0  # straight approach along the spot's centre line (m)
    speed: float = 4.0  # m/s while manoeuvring (less when the plan is short)
    run_in_speed: float = 3.0  # m/s on the run-in
    reverse_speed: float = 2.0  # m/s
    lateral_gain: float = 0.5  # run-in: radians of heading per metre off the line (via atan)
    heading_gain: float = 2.0  # run-in: steering action per radian of heading error
    offset: float = 0.8  # plans may arrive this far beside the line (m); the run-in corrects it
    switch_cost: float = 6.0  # metres of path a change between forward and reverse costs
    radius_cost: float = 2.0  # metres of path per metre of radius below `radius`
    offset_cost: float = 2.0  # metres of path per metre of offset
    action_noise: float = 0.0  # std of Gaussian noise added to each action before clipping


@dataclass
class _Plan:
    cost: float
    reverse_steer: float | None = None  # reverse first, at this steering action
    segments: list[Segment] | None = None  # else drive this forward path
    radius: float = 0.0


def _throttle(target_speed: float, speed: float) -> float:
    """The acceleration action that reaches ``target_speed`` in one policy step (before
    clipping)."""
    return (target_speed - speed) / (MAX_ACCELERATION * POLICY_PERIOD)


def _steering_for(curvature: float) -> float:
    """The steering action that turns the car's rear end with ``curvature`` (1/m)."""
    return float(np.arctan(CAR_LENGTH * curvature) / MAX_STEERING)


def _inside_lot(poses: np.ndarray) -> bool:
    """Whether the rear end (``poses``) and the front end (5 m ahead) stay clear of the walls."""
    fronts = poses[:, :2] + CAR_LENGTH * np.stack([np.cos(poses[:, 2]), np.sin(poses[:, 2])], 1)
    ends = np.concatenate([poses[:, :2], fronts])
    within = (np.abs(ends[:, 0]) <= LOT_HALF_WIDTH) & (np.abs(ends[:, 1]) <= LOT_HALF_DEPTH)
    return bool(np.all(within))


def _reverse_poses(pose: Pose, steer: float, distance: float, spacing: float = 0.5) -> np.ndarray:
    """Poses of the rear end reversing ``distance`` metres at a fixed steering action: the
    circle (or line) it would drive forward at that steering, run backwards."""
    s = -np.append(np.arange(spacing, distance, spacing), distance)
    if steer == 0:
        return segment_poses(pose, "S", 1.0, s)
    radius = CAR_LENGTH / np.tan(abs(steer) * MAX_STEERING)
    return segment_poses(pose, "L" if steer > 0 else "R", radius, s)


class ParkingExpert(ScriptedExpert):
    """A policy over flat ``parking`` observations (12 numbers: the car's and the goal's
    ``x, y, vx, vy, cos h, sin h``, scaled) -> ``(acceleration, steering)``."""

    name = "parking-dubins"

    def __init__(self, config: ParkingExpertConfig | None = None, seed: int = 0):
        self.config = config or ParkingExpertConfig()
        self.rng = np.random.default_rng(seed)
        cfg = self.config
        self._radii = tuple(np.linspace(cfg.min_radius, cfg.radius, 5))
        self._offsets = (0.0, -cfg.offset, cfg.offset, -cfg.offset / 2, cfg.offset / 2)

    def act(self, observation: np.ndarray) -> np.ndarray:
        """Action for one flat observation."""
        cfg = self.config
        x, y, vx, vy, cos_h, sin_h = observation[:6] * OBSERVATION_SCALES
        gx, gy, _, _, goal_cos, goal_sin = observation[6:12] * OBSERVATION_SCALES
        heading, speed = float(np.arctan2(sin_h, cos_h)), float(vx * cos_h + vy * sin_h)
        line = np.array([goal_cos, goal_sin])  # the spot's centre line, pointing into the spot
        side = np.array([-goal_sin, goal_cos])
        offset = np.array([x - gx, y - gy])
        along, lateral = float(offset @ line), float(offset @ side)
        goal_heading = float(np.arctan2(goal_sin, goal_cos))
        error = (heading - goal_heading + np.pi) % (2 * np.pi) - np.pi
        if -cfg.run_in - 0.5 < along < 3.0 and abs(lateral) < 1.2 and abs(error) < 0.5:
            steer = cfg.heading_gain * (-np.arctan(cfg.lateral_gain * lateral) - error)
            action = np.array([_throttle(cfg.run_in_speed, speed), steer])
        else:
            rear = (x - CAR_LENGTH / 2 * cos_h, y - CAR_LENGTH / 2 * sin_h, heading)
            entry = np.array([gx, gy]) - (cfg.run_in + CAR_LENGTH / 2) * line
            targets = [
                ((*(entry + o * side), goal_heading), cfg.offset_cost * abs(o))
                for o in self._offsets
            ]
            action = self._manoeuvre(rear, speed, targets)
        return self._noisy_and_clipped(action, cfg.action_noise)

    def _forward(
        self, rear: Pose, targets: list[tuple[Pose, float]], radii: tuple[float, ...]
    ) -> _Plan | None:
        """The cheapest forward Dubins path to one of ``targets`` that stays inside the lot."""
        best = None
        for target, extra in targets:
            for radius in radii:
                segments = dubins_path(rear, target, radius)
                cost = (
                    path_length(segments)
                    + self.config.radius_cost * (self.config.radius - radius)
                    + extra
                )
                if (best is None or cost < best.cost) and _inside_lot(
                    path_poses(rear, segments, radius)
                ):
                    best = _Plan(cost, segments=segments, radius=radius)
        return best

    def _manoeuvre(self, rear: Pose, speed: float, targets: list[tuple[Pose, float]]) -> np.ndarray:
        """The action of the cheapest plan: a forward Dubins path, or reversing first."""
        cfg = self.config
        reversing = speed < -0.3
        best = self._forward(rear, targets, self._radii)
        if best is not None and reversing:
            best.cost += cfg.switch_cost
        for steer in (-1.0, 0.0, 1.0):
            for distance in (2.0, 4.0, 6.0, 8.0):
                backed = _reverse_poses(rear, steer, distance)
                if not _inside_lot(backed):
                    continue
                then = self._forward(tuple(backed[-1]), targets[:1], (cfg.radius,))
                if then is None:
                    continue
                # reversing costs twice its distance, plus the change back to forward (and the
                # change into reverse, unless already reversing)
                cost = 2 * distance + then.cost + cfg.switch_cost * (1 if reversing else 2)
                if best is None or cost < best.cost:
                    best = _Plan(cost, reverse_steer=steer)
        if best is None or best.reverse_steer is not None:  # back up (straight if nothing fits)
            steer = 0.0 if best is None else best.reverse_steer
            return np.array([_throttle(-cfg.reverse_speed, speed), steer])
        # the first policy step of the path: steering averaged over the segments it covers
        total = path_length(best.segments)
        travel = max(abs(speed), 1.0) * POLICY_PERIOD
        steer, left = 0.0, travel
        for letter, length in best.segments:
            used = min(length, left)
            curvature = {"L": 1.0, "R": -1.0, "S": 0.0}[letter] / best.radius
            steer += _steering_for(curvature) * used / travel
            left -= used
            if left <= 1e-9:
                break
        target_speed = float(np.clip(0.7 * total, 2.0, cfg.speed))
        return np.array([_throttle(target_speed, speed), steer])

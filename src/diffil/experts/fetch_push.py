"""Scripted pushing expert for ``fetch-push``: get behind the block, push it to the goal, stop.

On the flat observation of :mod:`diffil.envs.fetch` (gripper 0:3, block 3:6, goal 25:28), with
``d`` the unit vector from the block to the goal (in the table's plane):

* **approach**: unless the gripper is low and behind the block on the block->goal line, fly at
  ``hover`` above the block to the point ``contact`` behind it along ``-d`` (lifting first when
  near the block, so as not to knock it), then descend there;
* **push**: move along ``d`` at a speed proportional to the block's distance to the goal (capped at
  ``max_speed``), correcting the sideways offset from the line, at the block's height;
* **stop**: hold still once the block is within ``stop_radius`` of the goal.

The gripper stays closed (FetchPush blocks it anyway). 100% success over 200 episodes at the
default noise; measured with ``benchmarks/task_costs.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffil.experts.scripted import ScriptedExpert


@dataclass
class FetchPushExpertConfig:
    contact: float = 0.07  # gripper distance behind the block's centre before pushing (m)
    hover: float = 0.08  # height above the block while approaching (m)
    push_gain: float = 10.0  # push speed (action units) per metre of block-goal distance
    max_speed: float = 0.6  # at most 3 cm per step, so the block does not slide past the goal
    stop_radius: float = 0.015  # the block is close enough to the goal (success is < 5 cm)
    kp: float = 10.0  # position gain while approaching (action units per metre)
    action_noise: float = 0.0  # std of Gaussian noise added to each action before clipping


class FetchPushExpert(ScriptedExpert):
    """A policy over flat ``fetch-push`` observations (28 numbers) -> ``(dx, dy, dz, grip)``."""

    name = "fetch-push-scripted"

    def __init__(self, config: FetchPushExpertConfig | None = None, seed: int = 0):
        self.config = config or FetchPushExpertConfig()
        self.rng = np.random.default_rng(seed)

    def act(self, observation: np.ndarray) -> np.ndarray:
        """Action for one flat observation."""
        cfg = self.config
        grip, block, goal = observation[0:3], observation[3:6], observation[25:28]
        to_goal = goal[:2] - block[:2]
        distance = float(np.linalg.norm(to_goal))
        if distance < cfg.stop_radius:
            move = np.zeros(3)
        else:
            move = self._move(grip, block, to_goal / distance, distance)
        action = np.append(move, 0.0)
        return self._noisy_and_clipped(action, cfg.action_noise)

    def _move(
        self, grip: np.ndarray, block: np.ndarray, d: np.ndarray, distance: float
    ) -> np.ndarray:
        cfg = self.config
        side = np.array([-d[1], d[0]])
        offset = grip[:2] - block[:2]
        along, lateral = float(offset @ d), float(offset @ side)
        low = grip[2] < block[2] + 0.02
        if along < -0.02 and abs(lateral) < 0.02 and low:  # behind the block: push
            speed = float(np.clip(distance * cfg.push_gain, 0.05, cfg.max_speed))
            xy = d * speed - side * np.clip(lateral * 10.0, -0.3, 0.3)
            return np.append(xy, cfg.kp * (block[2] - grip[2]))
        behind = block[:2] - d * cfg.contact
        if np.linalg.norm(grip[:2] - behind) < 0.015:  # above the contact point: descend
            target = np.append(behind, block[2])
        elif grip[2] < block[2] + 0.05 and np.linalg.norm(offset) < 0.1:  # near it: lift first
            target = np.append(grip[:2], block[2] + cfg.hover)
        else:
            target = np.append(behind, block[2] + cfg.hover)
        return cfg.kp * (target - grip)

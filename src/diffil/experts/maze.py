"""Scripted maze expert: shortest-path waypoints on the maze grid plus a PD controller.

This is how D4RL's maze2d demonstrations were made. The grid's breadth-first distances to the
goal cell give, from the cell the point is in, the next cell on a shortest path; the controller
drives towards that cell's centre, and inside the goal cell towards the goal itself:

    a = clip(kp * (target - position) - kd * velocity, -1, 1)

With ``action_noise`` it also serves as a noisy, reward-agnostic explorer.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from diffil.envs.maze import MazeLayout
from diffil.experts.scripted import ScriptedExpert

Cell = tuple[int, int]


@dataclass
class MazeExpertConfig:
    kp: float = 10.0
    kd: float = 1.0
    action_noise: float = 0.0  # std of Gaussian noise added to each action before clipping


class MazeWaypointExpert(ScriptedExpert):
    """A policy over flat PointMaze observations ``(x, y, vx, vy, gx, gy)``."""

    name = "maze-waypoint-pd"

    def __init__(self, layout: MazeLayout, config: MazeExpertConfig | None = None, seed: int = 0):
        self.layout = layout
        self.config = config or MazeExpertConfig()
        self.rng = np.random.default_rng(seed)
        self._free = set(layout.free_cells)
        self._distances: dict[Cell, dict[Cell, int]] = {}

    def distances_to(self, goal: Cell) -> dict[Cell, int]:
        """Breadth-first grid distances from every reachable free cell to ``goal`` (cached)."""
        if goal not in self._distances:
            dist = {goal: 0}
            queue = deque([goal])
            while queue:
                cell = queue.popleft()
                for nb in self._neighbours(cell):
                    if nb not in dist:
                        dist[nb] = dist[cell] + 1
                        queue.append(nb)
            self._distances[goal] = dist
        return self._distances[goal]

    def _neighbours(self, cell: Cell) -> list[Cell]:
        i, j = cell
        candidates = [(i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1)]
        return [c for c in candidates if c in self._free]

    def next_waypoint(self, position: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """The point to steer towards: the next cell centre on a shortest path, or the goal."""
        cell, goal_cell = self.layout.xy_to_cell(position), self.layout.xy_to_cell(goal)
        if cell == goal_cell:
            return goal
        dist = self.distances_to(goal_cell)
        if cell not in dist:  # numerically inside a wall cell: head back to the nearest free one
            nearest = min(dist, key=lambda c: np.linalg.norm(self.layout.cell_to_xy(c) - position))
            return self.layout.cell_to_xy(nearest)
        best = min(self._neighbours(cell), key=lambda c: dist.get(c, np.inf))
        return self.layout.cell_to_xy(best)

    def act(self, observation: np.ndarray) -> np.ndarray:
        """Action for one flat observation."""
        position, velocity, goal = observation[0:2], observation[2:4], observation[4:6]
        target = self.next_waypoint(position, goal)
        action = self.config.kp * (target - position) - self.config.kd * velocity
        return self._noisy_and_clipped(action, self.config.action_noise)

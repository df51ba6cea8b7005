"""PointMaze tasks (gymnasium-robotics PointMaze v3), goal-conditioned and flattened.

The dict observation ``{observation: (x, y, vx, vy), achieved_goal: (x, y),
desired_goal: (gx, gy)}`` becomes the flat vector ``(x, y, vx, vy, gx, gy)``; episodes end on
success (``continuing_task=False``) with the sparse reward, so an episode's return is 1 on
success and 0 otherwise.

Coverage variants restrict the cells that demonstration episodes start from and aim at to a fixed
fraction of the maze's free cells (the generalisation study of reference 000's paper); evaluation
environments always draw from all of them.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from diffil.envs.observations import FlattenGoalObservation, flatten_goal_observation
from diffil.envs.task import ReferenceScores, TaskSpec
from diffil.errors import DiffilError

_POSITION_NOISE_RANGE = 0.25  # gymnasium-robotics' default reset/goal noise, in cell units
# The cells of a coverage subset are drawn once with this seed, so every run of a variant (and
# every user) gets the same subset.
_COVERAGE_SEED = 20250101


@dataclass(frozen=True)
class MazeLayout:
    """The grid of a maze (1 = wall) and the conversions between cells and positions."""

    maze_map: tuple[tuple[int, ...], ...]
    scaling: float = 1.0

    @classmethod
    def from_env(cls, env: gym.Env) -> MazeLayout:
        maze = env.unwrapped.maze
        grid = tuple(tuple(1 if c == 1 else 0 for c in row) for row in maze.maze_map)
        return cls(grid, float(maze.maze_size_scaling))

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.maze_map), len(self.maze_map[0])

    @property
    def free_cells(self) -> list[tuple[int, int]]:
        rows, cols = self.shape
        return [(i, j) for i in range(rows) for j in range(cols) if self.maze_map[i][j] == 0]

    def cell_to_xy(self, cell: tuple[int, int]) -> np.ndarray:
        """Centre of cell (row, col) in simulator coordinates (gymnasium-robotics' convention)."""
        rows, cols = self.shape
        x = (cell[1] + 0.5) * self.scaling - cols * self.scaling / 2
        y = rows * self.scaling / 2 - (cell[0] + 0.5) * self.scaling
        return np.array([x, y])

    def xy_to_cell(self, xy: np.ndarray) -> tuple[int, int]:
        rows, cols = self.shape
        i = math.floor((rows * self.scaling / 2 - xy[1]) / self.scaling)
        j = math.floor((xy[0] + cols * self.scaling / 2) / self.scaling)
        return min(max(i, 0), rows - 1), min(max(j, 0), cols - 1)

    def coverage_cells(self, coverage: float) -> list[tuple[int, int]]:
        """A fixed subset of ``ceil(coverage * n)`` free cells (at least 2), nested as it grows."""
        cells = self.free_cells
        order = np.random.default_rng(_COVERAGE_SEED).permutation(len(cells))
        n = max(2, math.ceil(coverage * len(cells)))
        return sorted(cells[i] for i in order[:n])

    def wall_rectangles(self) -> list[tuple[float, float, float, float]]:
        """(x, y, width, height) of every wall cell, for plotting."""
        rows, cols = self.shape
        out = []
        for i in range(rows):
            for j in range(cols):
                if self.maze_map[i][j] == 1:
                    cx, cy = self.cell_to_xy((i, j))
                    h = self.scaling / 2
                    out.append((cx - h, cy - h, self.scaling, self.scaling))
        return out


def unflatten_goal_observation(flat: np.ndarray) -> dict[str, np.ndarray]:
    """Inverse of :func:`flatten_goal_observation` for PointMaze (achieved goal = position)."""
    flat = np.asarray(flat)
    return {
        "achieved_goal": flat[..., 0:2].copy(),
        "desired_goal": flat[..., 4:6].copy(),
        "observation": flat[..., 0:4].copy(),
    }


def held_out_episodes(task: TaskSpec, first_observations: np.ndarray) -> np.ndarray:
    """Whether each maze episode, given by its flat first observation ``(x, y, vx, vy, gx, gy)``,
    starts or aims at a cell outside the cells ``task``'s coverage variant trains on: a
    start/goal pair that no demonstration or training episode has. All False at full coverage.
    """
    if task.family != "maze":
        raise DiffilError(
            f"{task.name} is not a maze task: only mazes have start/goal cells",
            "pass a pointmaze task (see `diffil tasks`)",
        )
    observations = np.atleast_2d(np.asarray(first_observations, dtype=float))
    if task.coverage >= 1.0:
        return np.zeros(len(observations), dtype=bool)
    env = task.make_env(evaluation=True)
    try:
        layout = MazeLayout.from_env(env)
    finally:
        env.close()
    covered = set(layout.coverage_cells(task.coverage))
    return np.array(
        [
            layout.xy_to_cell(obs[0:2]) not in covered or layout.xy_to_cell(obs[4:6]) not in covered
            for obs in observations
        ],
        dtype=bool,
    )


class CoverageResets(gym.Wrapper):
    """Draws each episode's start and goal cells from a fixed subset of the maze's free cells."""

    def __init__(self, env: gym.Env, cells: list[tuple[int, int]]):
        super().__init__(env)
        if len(cells) < 2:
            raise ValueError("coverage needs at least two cells (a start and a different goal)")
        self.cells = cells

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            self.env.reset(seed=seed)  # seeds the env's generator, which then draws the cells
        rng = self.env.unwrapped.np_random
        goal, start = rng.choice(len(self.cells), size=2, replace=False)
        cell_options = {
            "goal_cell": np.array(self.cells[goal]),
            "reset_cell": np.array(self.cells[start]),
        }
        return self.env.reset(options={**cell_options, **(options or {})})


def _register_gymnasium_robotics() -> None:
    # gymnasium-robotics prints a notice about its Adroit environments to stderr on import; diffil
    # does not use those, so the notice is swallowed rather than shown to every user.
    with contextlib.redirect_stderr(io.StringIO()):
        import gymnasium_robotics
    gym.register_envs(gymnasium_robotics)


def _remove_maze_xml(env: gym.Env) -> None:
    """Delete the MuJoCo model file gymnasium-robotics wrote for this maze.

    It writes one ``ant_maze<time>.xml`` per environment into the system's temporary directory and
    never removes it (thousands of files after a benchmark); the model is loaded by now.
    """
    path = getattr(env.unwrapped, "tmp_xml_file_path", None)
    if path and os.path.basename(path).startswith("ant_maze") and path.endswith(".xml"):
        with contextlib.suppress(OSError):
            os.remove(path)


def _build_maze(spec: TaskSpec, evaluation: bool = False, render_mode: str | None = None):
    _register_gymnasium_robotics()
    env = gym.make(
        spec.env_id,
        max_episode_steps=spec.max_episode_steps,
        render_mode=render_mode,
        **spec.env_kwargs,
    )
    _remove_maze_xml(env)
    # PointMaze forwards unknown constructor kwargs to MuJoCo, so the noise is set afterwards.
    env.unwrapped.position_noise_range = _POSITION_NOISE_RANGE * spec.noise
    if spec.coverage < 1.0 and not evaluation:
        env = CoverageResets(env, MazeLayout.from_env(env).coverage_cells(spec.coverage))
    return FlattenGoalObservation(env)


# Reference scores are success rates (the sparse episodic return is 1 on success): uniform random
# actions and the scripted expert, median over 3 seeds x 100 episodes; benchmarks/maze_expert.py.
_MEASURED = "benchmarks/results/maze_expert.md"
MAZES = {
    "pointmaze-umaze": ("PointMaze_UMaze-v3", 300, ReferenceScores(0.25, 1.0, _MEASURED)),
    "pointmaze-medium": ("PointMaze_Medium-v3", 600, ReferenceScores(0.12, 1.0, _MEASURED)),
    "pointmaze-large": ("PointMaze_Large-v3", 800, ReferenceScores(0.14, 1.0, _MEASURED)),
}


def maze_tasks() -> list[TaskSpec]:
    """The built-in maze tasks."""
    return [
        TaskSpec(
            name=name,
            env_id=env_id,
            family="maze",
            max_episode_steps=horizon,
            builder=_build_maze,
            env_kwargs={"continuing_task": False, "reward_type": "sparse"},
            success_key="success",
            flatten_obs=flatten_goal_observation,
            unflatten_obs=unflatten_goal_observation,
            reference=reference,
            description=f"{env_id}, goal-conditioned point mass; ends on reaching the goal",
        )
        for name, (env_id, horizon, reference) in MAZES.items()
    ]

"""The reward map of a trained maze run: its learned reward r(s, pi(s)) over the maze.

``diffil reward-map RUN`` starts here. This module reads run directories (the reward model, the
final policy or planner, the demonstrations' goal); the drawing itself is
:func:`diffil.eval.reward_plots.draw_maze_reward`, which knows no runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from diffil.algorithms.config import TrainConfig, read_run_config
from diffil.algorithms.methods import get_method
from diffil.algorithms.reward_transfer import load_learned_reward, load_run_reward_model
from diffil.data.io import load_dataset
from diffil.envs.registry import get_task
from diffil.errors import DiffilError
from diffil.eval.reward_plots import draw_maze_reward, reward_surface
from diffil.policy import Policy

__all__ = ["plot_maze_reward"]


def plot_maze_reward(
    run_dir: str | PathLike,
    out_png: str | PathLike,
    goal: Sequence[float] | None = None,
    resolution: int = 60,
    draws: int = 32,
) -> Path:
    """Save a heatmap of a maze run's learned reward r(s, pi(s)) over positions (x, y).

    The state is (x, y, 0, 0, gx, gy): at rest, with the goal fixed (default: the goal of the
    first demonstration in ``<run>/demos.hdf5``); the action is the run's final policy's action
    at that state (Diffuser-IRL runs: the first action of the guided planner's plan). Wall
    cells are masked and drawn grey; arrows show the policy's actions.
    ``resolution`` is the number of grid points along x; stochastic rewards (DRAIL, DiffAIL)
    average ``draws`` estimates per point, shared along y (see
    :func:`~diffil.eval.reward_plots.reward_surface`).
    Returns the path of the PNG; raises :class:`DiffilError` for a run it cannot read.
    """
    run_dir = Path(run_dir)
    rewards_at, config = _maze_reward_source(run_dir, draws)
    task = get_task(config.task)
    if task.family != "maze":
        raise DiffilError(f"task {task.name!r} is not a maze", "pass a run of a pointmaze task").at(
            run_dir
        )
    if config.obs_only:
        raise DiffilError(
            "the run's reward reads (s, s'), not (s, a)", "pass a run trained without obs_only"
        ).at(run_dir)
    if resolution < 2:
        raise ValueError(f"resolution must be >= 2, got {resolution}")
    policy = _run_policy(run_dir, config)
    if goal is None:
        demos = load_dataset(run_dir / "demos.hdf5", task=task)
        if len(demos) == 0:
            raise DiffilError("demos.hdf5 holds no episodes", "pass goal=(x, y)").at(run_dir)
        goal = demos.trajectories[0].observations[0, 4:6].tolist()
    return draw_maze_reward(rewards_at, policy, task, goal, out_png, config.method, resolution)


def _maze_reward_source(
    run_dir: Path, draws: int
) -> tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], TrainConfig]:
    """r(s, a) on (rows, cols, .) grids of a run's learned reward, and the run's config."""
    config = read_run_config(run_dir)
    if get_method(config.method).plans:  # Diffuser-IRL: deterministic r_phi(s, a)
        reward = load_learned_reward(run_dir).function()

        def planned(obs: np.ndarray, acts: np.ndarray) -> np.ndarray:
            flat_obs, flat_acts = obs.reshape(-1, obs.shape[-1]), acts.reshape(-1, acts.shape[-1])
            return reward(flat_obs, flat_acts, flat_obs).reshape(obs.shape[:-1])

        return planned, config
    model, scaler, config = load_run_reward_model(run_dir)
    return lambda obs, acts: reward_surface(model, scaler, obs, acts, draws=draws), config


def _run_policy(run_dir: Path, config: TrainConfig) -> Callable[[np.ndarray], np.ndarray]:
    """The run's final policy (a planner for Diffuser runs: one plan per state)."""
    if get_method(config.method).plans:
        from diffil.algorithms.planning import make_planner

        return make_planner(run_dir)
    if not (run_dir / "policy.pt").is_file():
        raise DiffilError("the run has no policy.pt", "let the training finish").at(run_dir)
    return Policy.load(run_dir / "policy.pt")

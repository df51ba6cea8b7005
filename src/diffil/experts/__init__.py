"""Experts that make demonstrations: scripted controllers and RL-trained policies."""

from __future__ import annotations

from collections.abc import Callable
from os import PathLike

import numpy as np

from diffil.envs.registry import TaskSpec
from diffil.errors import DiffilError
from diffil.experts.maze import MazeExpertConfig, MazeWaypointExpert
from diffil.experts.rl_expert import (
    ExpertConfig,
    ExpertPolicy,
    load_expert,
    train_expert,
)


def make_expert(
    task: TaskSpec,
    seed: int = 0,
    action_noise: float = 0.0,
    expert: str | PathLike | None = None,
) -> Callable[[np.ndarray], np.ndarray]:
    """The expert for ``task``: the trained one in ``expert`` (a policy file or an expert run
    directory) if given, else the task's scripted expert (mazes)."""
    if expert is not None:
        return load_expert(expert, task, action_noise=action_noise, seed=seed)
    if task.family == "maze":
        from diffil.envs.maze import MazeLayout

        env = task.make_env()
        try:
            layout = MazeLayout.from_env(env)
        finally:
            env.close()
        return MazeWaypointExpert(layout, MazeExpertConfig(action_noise=action_noise), seed=seed)
    raise DiffilError(
        f"task {task.name!r} has no scripted expert",
        f"train one with `diffil expert train --task {task.name}`, or pass --expert FILE "
        "(a policy file or an expert run directory)",
    )


__all__ = [
    "ExpertConfig",
    "ExpertPolicy",
    "MazeExpertConfig",
    "MazeWaypointExpert",
    "load_expert",
    "make_expert",
    "train_expert",
]

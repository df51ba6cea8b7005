"""Experts that make demonstrations: scripted controllers (and, later, RL-trained policies)."""

from __future__ import annotations

from diffil.envs.registry import TaskSpec
from diffil.errors import DiffilError
from diffil.experts.maze import MazeExpertConfig, MazeWaypointExpert


def make_expert(task: TaskSpec, seed: int = 0, action_noise: float = 0.0) -> MazeWaypointExpert:
    """The task's built-in expert."""
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
        "use a maze task, or roll out your own policy with diffil.data.collect.rollout",
    )


__all__ = ["MazeExpertConfig", "MazeWaypointExpert", "make_expert"]

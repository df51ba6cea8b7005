"""Experts that make demonstrations: scripted controllers and RL-trained policies."""

from __future__ import annotations

from collections.abc import Callable
from os import PathLike

import numpy as np

from diffil.envs.multitask import MULTITASK_FAMILY
from diffil.envs.registry import TaskSpec
from diffil.errors import DiffilError
from diffil.experts.driving import IDMDriverExpert
from diffil.experts.fetch_pick_and_place import (
    FetchPickAndPlaceExpert,
    FetchPickAndPlaceExpertConfig,
)
from diffil.experts.fetch_push import FetchPushExpert, FetchPushExpertConfig
from diffil.experts.maze import MazeExpertConfig, MazeWaypointExpert
from diffil.experts.parking import ParkingExpert, ParkingExpertConfig
from diffil.experts.rl_expert import (
    ExpertConfig,
    ExpertPolicy,
    load_expert,
)

SCRIPTED_FAMILIES = ("maze", "fetch", "driving")


def has_scripted_expert(task: TaskSpec) -> bool:
    """Whether diffil can make demonstrations for ``task`` without a trained expert (mazes,
    the Fetch tasks, the driving tasks)."""
    return task.family in SCRIPTED_FAMILIES


def make_expert(
    task: TaskSpec,
    seed: int = 0,
    action_noise: float = 0.0,
    expert: str | PathLike | None = None,
) -> Callable[[np.ndarray], np.ndarray]:
    """The expert for ``task``: the trained one in ``expert`` (a policy file or an expert run
    directory) if given, else the task's scripted expert (mazes, the Fetch tasks, driving; the
    highway and merge expert ignores ``action_noise``)."""
    if expert is not None:
        return load_expert(expert, task, action_noise=action_noise, seed=seed)
    if task.name == "fetch-pick-and-place":
        config = FetchPickAndPlaceExpertConfig(action_noise=action_noise)
        return FetchPickAndPlaceExpert(config, seed=seed)
    if task.family == "fetch":
        return FetchPushExpert(FetchPushExpertConfig(action_noise=action_noise), seed=seed)
    if task.name == "parking":
        return ParkingExpert(ParkingExpertConfig(action_noise=action_noise), seed=seed)
    if task.family == "driving":
        return IDMDriverExpert()
    if has_scripted_expert(task):
        from diffil.envs.maze import MazeLayout

        env = task.make_env()
        try:
            layout = MazeLayout.from_env(env)
        finally:
            env.close()
        return MazeWaypointExpert(layout, MazeExpertConfig(action_noise=action_noise), seed=seed)
    if task.family == MULTITASK_FAMILY:
        raise DiffilError(
            f"{task.name!r} lists several tasks; demonstrations are made one task at a time",
            "collect each task on its own (a multi-task run uses each task's demonstrations)",
        )
    raise DiffilError(
        f"task {task.name!r} has no scripted expert",
        f"train one with `diffil expert train --task {task.name}`, or pass --expert FILE "
        "(a policy file or an expert run directory)",
    )


def __getattr__(name: str) -> object:
    """Training an RL expert moved to :mod:`diffil.algorithms.expert_training`
    (``diffil.train_expert`` is unchanged); the old name says where it went."""
    if name == "train_expert":
        raise ImportError(
            "diffil.experts.train_expert moved: use diffil.train_expert "
            "(or diffil.algorithms.expert_training.train_expert)"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ExpertConfig",
    "ExpertPolicy",
    "FetchPickAndPlaceExpert",
    "FetchPickAndPlaceExpertConfig",
    "FetchPushExpert",
    "FetchPushExpertConfig",
    "IDMDriverExpert",
    "MazeExpertConfig",
    "MazeWaypointExpert",
    "ParkingExpert",
    "ParkingExpertConfig",
    "has_scripted_expert",
    "load_expert",
    "make_expert",
]

"""Task registry and environment wrappers."""

from diffil.envs.maze import MazeLayout, unflatten_goal_observation
from diffil.envs.observations import flatten_goal_observation
from diffil.envs.registry import (
    ReferenceScores,
    TaskSpec,
    get_task,
    list_tasks,
    register_task,
    task_for_env_id,
    task_for_env_spec,
)

__all__ = [
    "MazeLayout",
    "ReferenceScores",
    "TaskSpec",
    "flatten_goal_observation",
    "get_task",
    "list_tasks",
    "register_task",
    "task_for_env_id",
    "task_for_env_spec",
    "unflatten_goal_observation",
]

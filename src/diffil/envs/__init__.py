"""Task registry and environment wrappers."""

from diffil.envs.maze import MazeLayout, flatten_goal_observation, unflatten_goal_observation
from diffil.envs.registry import (
    ReferenceScores,
    TaskSpec,
    get_task,
    list_tasks,
    register_task,
    task_for_env_id,
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
    "unflatten_goal_observation",
]

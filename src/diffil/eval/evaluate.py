"""Evaluating a policy: return and success with their spread."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from diffil.data.collect import rollout
from diffil.data.trajectory import TrajectoryDataset
from diffil.envs.registry import TaskSpec


def evaluate_policy(
    task: TaskSpec,
    policy: Callable[[np.ndarray], np.ndarray],
    episodes: int,
    seed: int = 10_000,
    progress: bool = False,
) -> dict[str, float]:
    """Mean and std of return (and success rate, normalised score, the task's own episode
    metrics as ``<name>_mean``) over ``episodes`` episodes.

    Evaluation environments use every start/goal cell regardless of a coverage variant.
    """
    trajs = rollout(
        task, policy, episodes, seed=seed, evaluation=True, progress=progress, description="eval"
    )
    dataset = TrajectoryDataset(trajs)
    returns = np.array([t.episode_return for t in trajs])
    result = {
        "episodes": float(episodes),
        "return_mean": float(returns.mean()),
        "return_std": float(returns.std()),
        "length_mean": float(dataset.statistics()["length_mean"]),
    }
    if task.success_key:
        success = np.array([bool(t.success) for t in trajs], dtype=float)
        result["success_rate"] = float(success.mean())
        # binomial standard error of the success rate
        result["success_se"] = float(np.sqrt(success.mean() * (1 - success.mean()) / episodes))
    if task.episode_metrics is not None:  # e.g. driving: collision rate, mean speed
        per_episode = [task.episode_metrics(t) for t in trajs]
        for name in per_episode[0]:
            result[f"{name}_mean"] = float(np.mean([m[name] for m in per_episode]))
    if task.reference is not None and task.family != "maze":
        result["normalized_return"] = float(task.normalized_score(returns.mean()))
    return result

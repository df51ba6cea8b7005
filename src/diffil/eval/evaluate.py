"""Evaluating a policy: return and success with their spread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from diffil.data.collect import rollout
from diffil.data.trajectory import TrajectoryDataset
from diffil.envs.multitask import MultiTaskSpec
from diffil.envs.registry import TaskSpec
from diffil.eval.multitask import combine_task_results

# The seed of final evaluations (and of `diffil eval`): every run of every method is scored on
# the same episodes (on a maze: the same start/goal pairs).
FINAL_EVAL_SEED = 10_000


def periodic_eval_seed(env_steps: int) -> int:
    """The seed of the evaluation during training at ``env_steps`` (> 0): each evaluation draws
    fresh episodes (start/goal pairs), none of them the final evaluation's, and a resumed run
    draws the same ones again."""
    return FINAL_EVAL_SEED + 1 + int(env_steps)


def evaluate_policy(
    task: TaskSpec,
    policy: Callable[[np.ndarray], np.ndarray],
    episodes: int,
    seed: int = FINAL_EVAL_SEED,
    progress: bool = False,
    num_envs: int = 1,
) -> dict[str, Any]:
    """Mean and std of return (and success rate, normalised score, the task's own episode
    metrics as ``<name>_mean``) over ``episodes`` episodes, and each episode's return
    (``episode_returns``, for intervals over episodes).

    The environment is seeded once with ``seed``, so different seeds give different episodes.
    ``num_envs`` > 1 plays that many episodes at a time in lockstep, the policy acting on their
    batch (:func:`~diffil.data.collect.rollout`): much faster for a generative policy, which
    samples once per step for all of them, but on other episodes than one environment draws.
    Evaluation environments use every start/goal cell regardless of a coverage variant.
    A multi-task ``task`` is evaluated per task (:mod:`diffil.eval.multitask`).
    """
    if isinstance(task, MultiTaskSpec):  # each task on its own (the same seed), and their mean
        per_task = {
            name: evaluate_policy(task.member(i), policy, episodes, seed, progress, num_envs)
            for i, name in enumerate(task.task_names)
        }
        return combine_task_results(per_task)
    trajs = rollout(
        task,
        policy,
        episodes,
        seed=seed,
        evaluation=True,
        progress=progress,
        description="eval",
        num_envs=num_envs,
    )
    dataset = TrajectoryDataset(trajs)
    returns = np.array([t.episode_return for t in trajs])
    result = {
        "episodes": float(episodes),
        "return_mean": float(returns.mean()),
        "return_std": float(returns.std()),
        "length_mean": float(dataset.statistics()["length_mean"]),
        "episode_returns": [round(float(r), 4) for r in returns],
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


def format_evaluation(result: dict[str, Any]) -> str:
    """One line of an evaluation's figures: success, return, normalised return, episodes."""
    parts = [f"return {result['return_mean']:.3g} ± {result['return_std']:.2g}"]
    if "success_rate" in result:
        parts.insert(0, f"success {result['success_rate']:.1%} ± {result['success_se']:.1%}")
    if "normalized_return" in result:
        parts.append(f"normalised {result['normalized_return']:.3f}")
    return ", ".join(parts) + f" ({int(result['episodes'])} episodes)"

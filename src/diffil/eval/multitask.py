"""Evaluating a multi-task policy: each task on its own, and their mean.

A multi-task run's evaluation (eval.json, ``diffil eval``) has the mean over the tasks under
the usual keys (``success_rate``, ``return_mean``, ...), computed from ``episodes`` episodes of
each task, and each task's own result under ``tasks``. Its learning curve (metrics.csv) has
``eval_success.<task>`` and ``eval_return.<task>`` columns beside ``eval_success`` and
``eval_return`` (the means).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from diffil.envs.multitask import MultiTaskSpec
from diffil.envs.task import TaskSpec


def combine_task_results(per_task: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The mean over tasks of their evaluations (each of as many episodes), with each task's
    own under ``tasks``."""
    results = list(per_task.values())
    means = np.array([r["return_mean"] for r in results])
    stds = np.array([r["return_std"] for r in results])
    combined: dict[str, Any] = {
        "episodes": float(sum(r["episodes"] for r in results)),
        "return_mean": float(means.mean()),
        # the spread of all episodes' returns together (equal counts per task)
        "return_std": float(np.sqrt(np.mean(stds**2 + means**2) - means.mean() ** 2)),
        "length_mean": float(np.mean([r["length_mean"] for r in results])),
    }
    if all("success_rate" in r for r in results):
        combined["success_rate"] = float(np.mean([r["success_rate"] for r in results]))
        se = np.array([r["success_se"] for r in results])
        combined["success_se"] = float(np.sqrt(np.sum(se**2)) / len(se))
    if all("normalized_return" in r for r in results):
        combined["normalized_return"] = float(np.mean([r["normalized_return"] for r in results]))
    combined["tasks"] = per_task
    return combined


def curve_columns(task: TaskSpec, result: Mapping[str, Any] | None) -> dict[str, float | None]:
    """The evaluation columns of a learning curve for ``result`` (None: not evaluated):
    ``eval_success`` and ``eval_return``, and for a multi-task run the same per task
    (``eval_success.<task>``, ``eval_return.<task>``)."""
    result = result or {}
    columns = {"eval_success": result.get("success_rate"), "eval_return": result.get("return_mean")}
    if isinstance(task, MultiTaskSpec):
        per_task = result.get("tasks") or {}
        for member in task.members:
            own = per_task.get(member.name) or {}
            if member.success_key:
                columns[f"eval_success.{member.name}"] = own.get("success_rate")
            columns[f"eval_return.{member.name}"] = own.get("return_mean")
    return columns


def per_task_summary(row: Mapping[str, Any]) -> str:
    """``"umaze 0.90, medium 0.70"``: the per-task figures of a metrics row (success where the
    row has it, else return); empty for single-task rows."""
    parts = []
    for key, value in row.items():
        prefix, _, name = key.partition(".")
        if value is None or not name or prefix not in ("eval_success", "eval_return"):
            continue
        if prefix == "eval_return" and row.get(f"eval_success.{name}") is not None:
            continue
        parts.append(f"{name} {value:.2f}" if prefix == "eval_success" else f"{name} {value:.1f}")
    return ", ".join(parts)

"""Checks that a dataset is well formed, and fits a task, before anything learns from it."""

from __future__ import annotations

from os import PathLike

import numpy as np

from diffil.data.trajectory import TrajectoryDataset
from diffil.envs.registry import TaskSpec
from diffil.errors import DiffilError

_REGENERATE = "re-create it with `diffil collect`, or fix the file that made it"


def validate_dataset(
    dataset: TrajectoryDataset,
    task: TaskSpec | None = None,
    where: str | PathLike | None = None,
) -> TrajectoryDataset:
    """Raise :class:`DiffilError` (one line, with a fix) if ``dataset`` is malformed.

    Checks: at least one episode of at least one step; 2-D float arrays; T+1 observations for T
    actions; flags and infos of length T; the same dimensions in every episode; finite values;
    and, given a ``task``, observation and action dimensions that match it.
    """

    def fail(what: str, fix: str = _REGENERATE) -> DiffilError:
        return DiffilError(what, fix, where)

    if len(dataset) == 0:
        raise fail("the dataset has no episodes", "collect at least one episode")
    obs_dim, act_dim = dataset.obs_dim, dataset.act_dim
    for e, traj in enumerate(dataset):
        name = f"episode {e}"
        if traj.observations.ndim != 2 or traj.actions.ndim != 2:
            raise fail(
                f"{name}: observations and actions must be 2-D (steps, dim), got shapes "
                f"{traj.observations.shape} and {traj.actions.shape}"
            )
        for label, arr in (("observations", traj.observations), ("actions", traj.actions)):
            if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(
                arr.dtype, np.complexfloating
            ):
                raise fail(f"{name}: {label} must be real numbers, got dtype {arr.dtype}")
        steps = len(traj.actions)
        if steps == 0:
            raise fail(f"{name} has no steps", "drop empty episodes before saving")
        if len(traj.observations) != steps + 1:
            raise fail(
                f"{name}: {len(traj.observations)} observations for {steps} actions "
                f"(expected {steps + 1}: one more observation than actions)"
            )
        if traj.observations.shape[1] != obs_dim or traj.actions.shape[1] != act_dim:
            raise fail(
                f"{name}: dimensions (obs {traj.observations.shape[1]}, act "
                f"{traj.actions.shape[1]}) differ from episode 0's (obs {obs_dim}, act {act_dim})"
            )
        columns = {"terminations": traj.terminations, "truncations": traj.truncations}
        if traj.rewards is not None:
            columns["rewards"] = traj.rewards
        columns.update({f"infos/{k}": v for k, v in traj.infos.items()})
        for label, arr in columns.items():
            if len(arr) != steps:
                raise fail(f"{name}: {label} has {len(arr)} entries for {steps} steps")
        numeric = [("observations", traj.observations), ("actions", traj.actions)]
        if traj.rewards is not None:
            numeric.append(("rewards", traj.rewards))
        for label, arr in numeric:
            bad = ~np.isfinite(arr)
            if bad.any():
                step = int(np.argwhere(bad)[0][0])
                kind = "NaN" if np.isnan(arr[bad]).any() else "infinite"
                raise fail(f"{name}: {label} contain {kind} values (first at step {step})")
    if task is not None and (obs_dim != task.obs_dim or act_dim != task.act_dim):
        raise fail(
            f"observations have {obs_dim} dims and actions {act_dim}, but task "
            f"{task.name!r} has {task.obs_dim} and {task.act_dim}",
            "pass the task these demonstrations were recorded on",
        )
    return dataset

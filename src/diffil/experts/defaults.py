"""The demonstrations a run gets when none are given: the ones diffil ships for the task, else
those its scripted expert makes (collected by the trainer, :mod:`diffil.experts.collect`)."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from diffil.data.minari_format import read_metadata
from diffil.datasets import shipped_demonstrations, shipped_path
from diffil.envs.registry import TaskSpec
from diffil.errors import DiffilError
from diffil.experts import has_scripted_expert
from diffil.utils.paths import shown_path


def default_demonstrations(task: TaskSpec, num_demos: int, progress: bool) -> Path | None:
    """The demonstrations diffil ships for ``task`` (announced in one line); None when the
    task's scripted expert makes them (always for a variant other than the shipped one's); a
    one-line error when there are neither."""
    path = shipped_demonstrations(task.name)
    if path is not None and has_scripted_expert(task) and not _same_variant(path, task):
        path = None  # e.g. fetch-push at 1.5x noise: its scripted expert demonstrates that
    if path is None:
        if has_scripted_expert(task):
            return None
        stem = task.file_stem
        raise DiffilError(
            f"task {task.name!r} has no demonstrations: no --demos, no scripted expert, and "
            f"no shipped demonstrations at {shipped_path(task.name)}",
            f"pass --demos FILE (diffil HDF5/npz or a Minari dataset), or make them: diffil "
            f"expert train --task {task.name}, then diffil collect --task {task.name} --expert "
            f"experts/{stem}-s0 --episodes 25 --out {stem}.hdf5",
        )
    if progress:
        episodes = min(num_demos, int(read_metadata(path).get("total_episodes", num_demos)))
        Console(highlight=False, soft_wrap=True).print(
            f"using the shipped demonstrations {shown_path(path)} ({episodes} episodes)"
        )
    return path


def _same_variant(path: Path, task: TaskSpec) -> bool:
    """Whether the demonstrations in ``path`` were made on ``task``'s variant (noise, coverage)."""
    recorded = (read_metadata(path).get("diffil") or {}).get("variant") or {}
    return all(float(recorded.get(k, 1.0)) == v for k, v in task.variant_settings.items())

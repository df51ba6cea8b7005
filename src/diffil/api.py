"""The Python API: each function here is one ``diffil`` command, and the CLI calls it."""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

from diffil.data.collect import collect_demonstrations
from diffil.data.io import check_writable, load_dataset, save_dataset
from diffil.data.trajectory import TrajectoryDataset
from diffil.envs.registry import TaskSpec, get_task
from diffil.eval.plots import plot_dataset


def collect(
    task: str | TaskSpec,
    episodes: int,
    out: str | PathLike | None = None,
    seed: int = 0,
    noise: float | None = None,
    coverage: float | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> TrajectoryDataset:
    """Make demonstrations with the task's expert; save them to ``out`` if given.

    ``out``'s suffix picks the format: ``.npz``, ``.hdf5``, or no suffix for a Minari folder.
    """
    spec = get_task(task, noise=noise, coverage=coverage)
    if out is not None:
        check_writable(out, overwrite)  # fail before the (possibly long) collection
    dataset = collect_demonstrations(spec, episodes, seed=seed, progress=progress)
    if out is not None:
        save_dataset(dataset, out, task=spec, overwrite=overwrite)
    return dataset


def dataset_info(path: str | PathLike, task: str | None = None) -> dict[str, Any]:
    """Statistics of a dataset file and its provenance metadata."""
    dataset = load_dataset(path, task=task)
    return {"path": str(path), "statistics": dataset.statistics(), "metadata": dataset.metadata}


def plot(
    path: str | PathLike,
    out: str | PathLike | None = None,
    task: str | None = None,
    max_episodes: int = 100,
) -> Path:
    """Save a PNG of a dataset's trajectories (over the maze layout for maze tasks)."""
    dataset = load_dataset(path, task=task)
    name = task or dataset.task
    spec = get_task(name, **(dataset.metadata.get("variant") or {})) if name else None
    out = Path(out) if out is not None else Path(str(path).rstrip("/")).with_suffix(".png")
    return plot_dataset(dataset, out, task=spec, max_episodes=max_episodes)


def quickstart(
    out_dir: str | PathLike = "out/quickstart",
    task: str = "pointmaze-umaze",
    episodes: int = 100,
    seed: int = 0,
) -> dict[str, Any]:
    """diffil's main job today: make maze demonstrations, summarise and plot them."""
    out_dir = Path(out_dir)
    data_path = out_dir / f"{task}-{episodes}.hdf5"
    collect(task, episodes, out=data_path, seed=seed, overwrite=True, progress=True)
    info = dataset_info(data_path)
    info["plot"] = str(plot(data_path, out_dir / f"{task}-{episodes}.png"))
    return info

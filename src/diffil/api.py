"""The Python API: each function here is one ``diffil`` command, and the CLI calls it."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from os import PathLike
from pathlib import Path
from typing import Any

from diffil.algorithms.expert_training import train_expert  # noqa: F401  (the Python API)
from diffil.data.io import check_writable, load_dataset, save_dataset
from diffil.data.trajectory import TrajectoryDataset
from diffil.envs.registry import TaskSpec, get_task
from diffil.errors import DiffilError
from diffil.experts.collect import COLLECT_MODES, collect_demonstrations, collect_exploration
from diffil.planning.augment import AugmentConfig, AugmentReport, augment_dataset


def collect(
    task: str | TaskSpec,
    episodes: int | None = None,
    out: str | PathLike | None = None,
    seed: int = 0,
    noise: float | None = None,
    coverage: float | None = None,
    overwrite: bool = False,
    progress: bool = False,
    expert: str | PathLike | None = None,
    mode: str = "expert",
    steps: int | None = None,
    segment_length: int | None = None,
    action_noise: float | None = None,
    successful_only: bool = False,
) -> TrajectoryDataset:
    """Make demonstrations with the task's expert; save them to ``out`` if given.

    ``out``'s suffix picks the format: ``.npz``, ``.hdf5``, or no suffix for a Minari folder.
    ``expert`` is a trained expert (a policy file or a ``diffil expert train`` run directory);
    without it the task's scripted expert is used (mazes only).

    ``mode="explore"`` (mazes) instead makes ``steps`` steps of reward-agnostic data without
    resets, optionally cut into ``segment_length``-step pieces (see
    :func:`diffil.experts.collect.collect_exploration`; ``action_noise`` defaults to 0.5 there).

    ``action_noise`` (expert mode: default 0) is the std of Gaussian noise on every expert
    action, as a fraction of half the action range; ``successful_only`` keeps successful
    episodes only (see :func:`diffil.experts.collect.collect_demonstrations`).
    """
    from diffil.experts import make_expert
    from diffil.experts.noise import check_action_noise

    if mode not in COLLECT_MODES:
        raise DiffilError(f"unknown collect mode {mode!r}", f"use {' or '.join(COLLECT_MODES)}")
    if mode == "explore":
        if steps is None or expert is not None or episodes is not None:
            raise DiffilError(
                "explore mode takes --steps, and neither --episodes nor --expert",
                "e.g. --mode explore --steps 100000",
            )
        if successful_only:
            raise DiffilError(
                "explore mode has no episodes to keep or reject", "drop --successful-only"
            )
    elif episodes is None or steps is not None:
        raise DiffilError("expert mode takes --episodes, not --steps", "e.g. --episodes 100")
    if action_noise is not None:
        check_action_noise(action_noise)
    spec = get_task(task, noise=noise, coverage=coverage)
    policy = make_expert(spec, seed=seed, expert=expert) if expert is not None else None
    if out is not None:
        check_writable(out, overwrite)  # fail before the (possibly long) collection
    if mode == "explore":
        assert steps is not None
        explore_noise = {} if action_noise is None else {"action_noise": action_noise}
        dataset = collect_exploration(
            spec,
            steps,
            seed=seed,
            segment_length=segment_length,
            progress=progress,
            **explore_noise,
        )
    else:
        assert episodes is not None
        dataset = collect_demonstrations(
            spec,
            episodes,
            seed=seed,
            expert=policy,
            progress=progress,
            action_noise=action_noise or 0.0,
            successful_only=successful_only,
        )
    if out is not None:
        save_dataset(dataset, out, task=spec, overwrite=overwrite)
    return dataset


def augment(
    demos: str | PathLike | TrajectoryDataset,
    factor: int = 4,
    out: str | PathLike | None = None,
    task: str | TaskSpec | None = None,
    episodes: int | None = None,
    steps: int | None = None,
    seed: int = 0,
    tolerance: float | None = None,
    starts: str = "demos",
    overwrite: bool = False,
    report: Callable[[str], None] | None = None,
) -> tuple[TrajectoryDataset, AugmentReport]:
    """Train a trajectory diffusion model on ``demos`` and add ``factor`` times as many
    synthetic episodes, keeping those the simulator confirms (see :mod:`diffil.planning.augment`).

    ``episodes`` takes the first N episodes of ``demos``; ``steps`` is the model's training
    steps; ``tolerance`` bounds the planned states' distance from the simulator's (in units of
    the demonstrations' per-dimension std); ``starts`` is where synthetic episodes begin
    ("demos": the real episodes' first states; "resets": fresh starts of the task). Saved to
    ``out`` if given, which may not be the demonstrations' own file and replaces an existing
    dataset only with ``overwrite``.
    Returns the augmented dataset (real episodes first) and the counts.
    """
    defaults = AugmentConfig()
    config = AugmentConfig(
        factor=factor,
        train_steps=defaults.train_steps if steps is None else steps,
        tolerance=defaults.tolerance if tolerance is None else tolerance,
        seed=seed,
        starts=starts,
    )
    config.check()  # before anything is read or trained
    source = None if isinstance(demos, TrajectoryDataset) else Path(demos)
    if out is not None:
        if source is not None and Path(out).resolve() == source.resolve():
            raise DiffilError(
                "is the demonstrations' own file; augment never writes over them",
                "pass another --out",
                out,
            )
        check_writable(out, overwrite)  # fail before the (possibly long) training
    spec = None if task is None else get_task(task)
    dataset = demos if source is None else load_dataset(source, task=spec)
    if spec is None:
        if not dataset.task:
            raise DiffilError(
                "the demonstrations do not say which task they were recorded on",
                "pass --task (a task name, or gym:ENV_ID)",
                source,
            )
        spec = get_task(dataset.task, **(dataset.metadata.get("variant") or {}))
    if episodes is not None:
        if not 1 <= episodes <= len(dataset):
            raise DiffilError(
                f"--episodes must be in 1..{len(dataset)} (the episodes it holds), got {episodes}",
                "pass a smaller --episodes",
                source,
            )
        dataset = dataset.subset(num_trajectories=episodes)
    augmented, result = augment_dataset(dataset, spec, config, report=report)
    if source is not None:
        augmented.metadata["augmentation"]["source"] = str(source)
    if out is not None:
        save_dataset(augmented, out, task=spec, overwrite=overwrite)
    return augmented, result


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
    from diffil.eval.plots import plot_dataset  # matplotlib only when drawing

    dataset = load_dataset(path, task=task)
    name = task or dataset.task
    spec = get_task(name, **(dataset.metadata.get("variant") or {})) if name else None
    out = Path(out) if out is not None else Path(str(path).rstrip("/")).with_suffix(".png")
    return plot_dataset(dataset, out, task=spec, max_episodes=max_episodes)


def compare(run_dirs: list[str | PathLike], plot_path: str | PathLike | None = None) -> str:
    """A markdown table comparing finished runs, and optionally their learning curves."""
    from diffil.eval.report import comparison_table, format_table, plot_learning_curves

    table = format_table(comparison_table(run_dirs))
    if plot_path is not None:
        plot_learning_curves(run_dirs, plot_path)
    return table


def _check_replaceable_run(path: Path) -> None:
    """Refuse to replace ``path`` unless it is absent, empty, or a diffil run directory."""
    from diffil.runs.run_dir import CONFIG

    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        return
    if not (path.is_dir() and (path / CONFIG).is_file()):
        raise DiffilError(
            "exists and is not a diffil run, so quickstart does not replace it",
            "choose another --out (or remove it yourself if it should go)",
            path,
        )


def quickstart(
    out_dir: str | PathLike = "out/quickstart",
    task: str = "pointmaze-umaze",
    episodes: int = 100,
    seed: int = 0,
    steps: int = 100_000,
    methods: tuple[str, ...] = ("drail", "gail", "bc"),
    progress: bool = True,
    coverage: float = 0.5,
    action_noise: float = 0.5,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """diffil's main job: make maze demonstrations, train DRAIL and baselines on them with a
    small budget, and compare them in a table and plots.

    ``overrides`` change every method's run config as ``diffil train --set`` does, e.g.
    ``{"eval": {"final_episodes": 20}}`` for a quicker final evaluation than the task's 100
    start/goal pairs; the coverage is this function's own argument.

    The demonstrations follow reference 000's maze protocol by default: the scripted expert with
    N(0, ``action_noise``²) noise on every action, successful episodes only, from ``coverage``
    of the start/goal cells; training and evaluation episodes use every cell, as the paper's.
    In that regime BC falls behind the adversarial methods (suite ``umaze-regimes``);
    ``coverage=1, action_noise=0`` gives clean demonstrations of every cell, where all three
    reach about 100%.

    ``out_dir`` belongs to the quickstart: its dataset and runs are replaced on every call
    (only they: anything else in their place is refused, and left alone).
    """
    from diffil.algorithms.config import resolve_config
    from diffil.algorithms.run import train

    out_dir = Path(out_dir)
    if overrides and "coverage" in overrides:
        raise DiffilError(
            "the quickstart sets the coverage of its demonstrations and runs itself",
            "pass coverage=... (diffil quickstart --coverage), not as an override",
        )
    run_overrides = {**(overrides or {}), "coverage": coverage}
    data_path = out_dir / f"{task}-{episodes}.hdf5"
    for method in methods:  # an unknown method or setting fails now, not after the demos
        resolve_config(method, task, run_overrides)
        _check_replaceable_run(out_dir / "runs" / method)
    collect(
        task, episodes, out=data_path, seed=seed, overwrite=True, progress=progress,
        coverage=coverage, action_noise=action_noise, successful_only=action_noise > 0,
    )  # fmt: skip
    info = dataset_info(data_path)
    info["plot"] = str(plot(data_path, out_dir / f"{task}-{episodes}.png"))
    runs = []
    for method in methods:
        run_dir = out_dir / "runs" / method
        if run_dir.exists():
            _check_replaceable_run(run_dir)
            shutil.rmtree(run_dir)
        train(
            method, task, demos=data_path, steps=steps, seed=seed, out=run_dir,
            progress=progress, overrides=run_overrides,
        )  # fmt: skip
        runs.append(run_dir)
    if "drail" in methods:
        from diffil.algorithms.reward_map import plot_maze_reward

        info["reward_map"] = str(
            plot_maze_reward(out_dir / "runs" / "drail", out_dir / "drail_reward_map.png")
        )
    info["comparison"] = compare(runs, out_dir / "learning_curves.png")
    info["learning_curves"] = str(out_dir / "learning_curves.png")
    (out_dir / "comparison.md").write_text(info["comparison"] + "\n")
    return info

"""Pictures of demonstrations: trajectories over the maze layout, or return/length histograms."""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from diffil.data.trajectory import TrajectoryDataset
from diffil.envs.registry import TaskSpec


def draw_maze(ax: plt.Axes, task: TaskSpec) -> None:
    """Wall cells of ``task``'s maze as grey squares, with equal axis scaling."""
    from diffil.envs.maze import MazeLayout

    env = task.make_env()
    try:
        layout = MazeLayout.from_env(env)
    finally:
        env.close()
    for x, y, w, h in layout.wall_rectangles():
        ax.add_patch(Rectangle((x, y), w, h, facecolor="0.35", edgecolor="0.25"))
    rows, cols = layout.shape
    ax.set_xlim(-cols * layout.scaling / 2, cols * layout.scaling / 2)
    ax.set_ylim(-rows * layout.scaling / 2, rows * layout.scaling / 2)
    ax.set_aspect("equal")


def plot_dataset(
    dataset: TrajectoryDataset,
    out: str | PathLike,
    task: TaskSpec | None = None,
    max_episodes: int = 100,
) -> Path:
    """Save a PNG of ``dataset``: paths over the maze for maze tasks, else return histograms."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    title = f"{dataset.task or 'dataset'}: {len(dataset)} episodes, {dataset.num_transitions} steps"
    if task is not None and task.family == "maze":
        fig, ax = plt.subplots(figsize=(6, 6))
        draw_maze(ax, task)
        colors = plt.cm.viridis(np.linspace(0, 1, min(len(dataset), max_episodes)))
        for traj, color in zip(dataset.trajectories[:max_episodes], colors, strict=False):
            xy = traj.observations[:, :2]
            ax.plot(xy[:, 0], xy[:, 1], color=color, lw=1.0, alpha=0.8)
            ax.plot(*xy[0], "o", color=color, ms=4)
            ax.plot(*traj.observations[0, 4:6], "*", color="crimson", ms=9, mec="k", mew=0.5)
        ax.set_title(f"{title}\n(o start, * goal)", fontsize=10)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
    else:
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        lengths = [len(t) for t in dataset]
        if dataset.has_rewards:
            axes[0].hist([t.episode_return for t in dataset], bins=20, color="tab:blue")
        axes[0].set_xlabel("episode return")
        axes[1].hist(lengths, bins=20, color="tab:orange")
        axes[1].set_xlabel("episode length")
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out

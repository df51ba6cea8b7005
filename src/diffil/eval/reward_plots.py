"""Pictures of learned rewards: r(s, a) surfaces evaluated on grids, and maze reward maps.

:func:`reward_surface` evaluates any reward model on a grid of inputs; for stochastic models
(DRAIL, DiffAIL) it averages several draws and uses *common random numbers*: every row of the
grid sees the same noise draws, so differences along the grid's first axis show the reward, not
the estimator's noise. :func:`draw_maze_reward` draws a maze reward r(s, pi(s)) over positions.
These read no run directories; :mod:`diffil.algorithms.reward_map` draws a trained run's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import numpy as np
import torch

from diffil.errors import DiffilError
from diffil.rewards import RewardModel, TransitionBatch
from diffil.rewards.normalization import scale_obs
from diffil.utils.moved import moved_names

if TYPE_CHECKING:
    from diffil.envs.registry import TaskSpec

__all__ = ["draw_maze_reward", "reward_surface"]


def reward_surface(
    model: RewardModel,
    scaler: Mapping[str, Any] | Any | None,
    obs: np.ndarray,
    acts: np.ndarray,
    draws: int = 8,
    seed: int = 0,
) -> np.ndarray:
    """Rewards r(s, a) of ``model`` at every point of a grid, as a float64 array.

    Args:
        model: a reward model; it is evaluated without gradients and left unchanged.
        scaler: standardisation of observations used in training (None = none); applied to
            s and to s' (which is set to s: the picture is of r(s, a) at rest).
        obs: ``(rows, cols, obs_dim)`` or ``(n, obs_dim)`` observations.
        acts: actions with the same leading shape and ``act_dim`` last.
        draws: estimates averaged per point (stochastic models; deterministic ones ignore it).
        seed: seed of the noise draws.

    Returns:
        shape ``obs.shape[:-1]``. Each row is evaluated in one call with a generator seeded
        with ``seed``, so all rows share their noise draws column by column (common random
        numbers); a 2-D ``obs`` is one row.
    """
    obs = np.asarray(obs, dtype=np.float32)
    acts = np.asarray(acts, dtype=np.float32)
    if obs.shape[:-1] != acts.shape[:-1]:
        raise ValueError(f"obs {obs.shape} and acts {acts.shape} have different leading shapes")
    if obs.ndim not in (2, 3):
        raise ValueError(f"obs must be (n, obs_dim) or (rows, cols, obs_dim), got {obs.shape}")
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    grid_obs = obs if obs.ndim == 3 else obs[None]
    grid_acts = acts if acts.ndim == 3 else acts[None]
    rows, cols = grid_obs.shape[:2]
    k = draws if _is_stochastic(model) else 1
    scaled = scale_obs(scaler, grid_obs).astype(np.float32)
    out = np.empty((rows, cols), dtype=np.float64)
    was_training = model.training
    model.eval()
    try:
        for i in range(rows):
            # k copies of the row in one call: row j of copy c always gets the same noise
            o = np.tile(scaled[i], (k, 1))
            a = np.tile(grid_acts[i], (k, 1))
            batch = TransitionBatch.from_numpy(o, a, o, np.zeros(len(o), dtype=np.float32))
            generator = torch.Generator().manual_seed(seed)
            r = model.reward(batch, generator=generator).double().cpu().numpy()
            out[i] = r.reshape(k, cols).mean(axis=0)
    finally:
        model.train(was_training)
    return out if obs.ndim == 3 else out[0]


def _is_stochastic(model: RewardModel) -> bool:
    """Whether the model's reward is a random estimate (a diffusion-loss discriminator)."""
    from diffil.rewards.diffusion_discriminator import DiffusionDiscriminator

    return isinstance(model, DiffusionDiscriminator)


def draw_maze_reward(
    rewards_at: Callable[[np.ndarray, np.ndarray], np.ndarray],
    policy: Callable[[np.ndarray], np.ndarray],
    task: TaskSpec,
    goal: Sequence[float],
    out_png: str | PathLike,
    label: str = "learned",
    resolution: int = 60,
) -> Path:
    """Save a heatmap of a maze reward r(s, pi(s)) over positions (x, y).

    The state is (x, y, 0, 0, gx, gy): at rest, with the goal ``goal``; the action is
    ``policy``'s at that state. ``rewards_at(obs, acts)`` maps ``(rows, cols, 6)`` states and
    their actions to ``(rows, cols)`` rewards (:func:`reward_surface` of a model, say). Wall
    cells are masked and drawn grey; arrows show the policy's actions. ``resolution`` is the
    number of grid points along x; ``label`` names the reward in the title. Returns the PNG's
    path. :func:`diffil.algorithms.reward_map.plot_maze_reward` draws a run's.
    """
    from diffil.envs.maze import MazeLayout
    from diffil.eval.plots import draw_maze

    if task.family != "maze":
        raise DiffilError(f"task {task.name!r} is not a maze", "pass a pointmaze task")
    if resolution < 2:
        raise ValueError(f"resolution must be >= 2, got {resolution}")
    goal_xy = np.asarray(goal, dtype=np.float64).reshape(-1)
    if goal_xy.shape != (2,):
        raise ValueError(f"goal must be (x, y), got {goal!r}")

    env = task.make_env()
    try:
        layout = MazeLayout.from_env(env)
    finally:
        env.close()
    n_rows, n_cols = layout.shape
    half_w, half_h = n_cols * layout.scaling / 2, n_rows * layout.scaling / 2
    nx = int(resolution)
    ny = max(2, round(nx * n_rows / n_cols))
    # cell centres of an (ny, nx) image covering the whole maze
    xs = -half_w + (np.arange(nx) + 0.5) * (2 * half_w / nx)
    ys = -half_h + (np.arange(ny) + 0.5) * (2 * half_h / ny)
    X, Y = np.meshgrid(xs, ys)
    obs = np.zeros((ny, nx, 6), dtype=np.float32)
    obs[..., 0], obs[..., 1] = X, Y
    obs[..., 4:6] = goal_xy
    acts = policy(obs.reshape(-1, 6)).reshape(ny, nx, -1)
    rewards = rewards_at(obs, acts)
    cells = [[layout.xy_to_cell(np.array([x, y])) for x in xs] for y in ys]
    wall = np.array([[layout.maze_map[i][j] == 1 for i, j in row] for row in cells])
    masked = np.ma.masked_array(rewards, mask=wall)

    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(1.2 * n_cols + 1.6, 1.2 * n_rows + 0.9))
    image = ax.imshow(
        masked,
        origin="lower",
        extent=(-half_w, half_w, -half_h, half_h),
        cmap="viridis",
        interpolation="nearest",
    )
    draw_maze(ax, task)
    step = max(1, nx // (3 * n_cols))  # about three arrows per cell
    sel = (slice(step // 2, None, step), slice(step // 2, None, step))
    free = ~wall[sel]
    ax.quiver(
        X[sel][free],
        Y[sel][free],
        acts[sel][..., 0][free],
        acts[sel][..., 1][free],
        color="white",
        alpha=0.7,
        angles="xy",
        scale_units="xy",
        scale=1.0 / (0.8 * step * 2 * half_w / nx),  # |a| = 1 spans 0.8 arrow spacings
        width=0.004,
    )
    ax.plot(*goal_xy, "*", color="crimson", ms=16, mec="k", mew=0.8, label="goal")
    ax.legend(loc="upper right", fontsize=8, framealpha=0.8)
    fig.colorbar(image, ax=ax, shrink=0.85, label="reward r(s, π(s))")
    ax.set_title(
        f"{label} reward on {task.name}\nat rest, goal ({goal_xy[0]:.2f}, "
        f"{goal_xy[1]:.2f}); arrows = policy action",
        fontsize=10,
    )
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


# these read runs, so they sit above evaluation
__getattr__ = moved_names(
    __name__,
    {
        "plot_maze_reward": "diffil.algorithms.reward_map",
        "load_run_reward_model": "diffil.algorithms.reward_transfer",
    },
)

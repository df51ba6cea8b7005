"""The 1-D sine toy of DRAIL (reference 000): how smooth are learned rewards off the data?

Expert pairs (s, a) follow a = sin(2 pi f s) + noise, with s drawn only from half of [0, 10]
(the covered intervals [0, 1), [2, 3), ..., [8, 9)); "agent" pairs are uniform over the box
[0, 10] x [-1.5, 1.5], standing in for an untrained policy. A GAIL and a DRAIL reward model are
trained on the same batches with the same widths and learning rate, then evaluated on a grid.
The smoothness numbers are the largest |dr/ds|, along the expert curve and over the grid.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt
import numpy as np
import torch

from diffil.eval.reward_plots import reward_surface
from diffil.rewards import RewardModel, TransitionBatch, make_reward_model

__all__ = [
    "COVERED_INTERVALS",
    "DRAIL_OPTIONS",
    "covered",
    "expert_curve",
    "run_sine_toy",
    "sample_agent",
    "sample_expert",
    "train_sine_models",
]

S_RANGE = (0.0, 10.0)
A_RANGE = (-1.5, 1.5)
FREQUENCY = 0.1
NOISE_STD = 0.05
COVERED_INTERVALS: tuple[tuple[float, float], ...] = ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9))
MODELS = ("gail", "drail")
# DRAIL's own options. Its default 64-wide time/label embedding left D stuck at 1/2 for thousands
# of updates on this 2-D input; a narrow one lets it learn (widths of the MLP stay shared).
DRAIL_OPTIONS: dict[str, Any] = {"time_embed_dim": 8}


@contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` intra-op threads (None = unchanged); tiny MLPs are fastest on one."""
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def expert_curve(s: np.ndarray) -> np.ndarray:
    """The noiseless expert action a*(s) = sin(2 pi f s)."""
    return np.sin(2 * np.pi * FREQUENCY * np.asarray(s, dtype=np.float64))


def covered(s: np.ndarray) -> np.ndarray:
    """Whether each s lies in one of the covered intervals."""
    s = np.asarray(s)
    return np.any([(s >= lo) & (s < hi) for lo, hi in COVERED_INTERVALS], axis=0)


def sample_expert(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` expert pairs: s uniform on the covered intervals, a = a*(s) + N(0, 0.05^2).

    Returns (s, a), each of shape (n, 1).
    """
    lows = np.array([lo for lo, _ in COVERED_INTERVALS], dtype=np.float64)
    widths = np.array([hi - lo for lo, hi in COVERED_INTERVALS], dtype=np.float64)
    pick = rng.choice(len(lows), size=n, p=widths / widths.sum())
    s = lows[pick] + rng.random(n) * widths[pick]
    a = expert_curve(s) + NOISE_STD * rng.standard_normal(n)
    return s[:, None].astype(np.float32), a[:, None].astype(np.float32)


def sample_agent(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` agent pairs uniform on [0, 10] x [-1.5, 1.5]; (s, a), each of shape (n, 1)."""
    s = rng.uniform(*S_RANGE, size=(n, 1))
    a = rng.uniform(*A_RANGE, size=(n, 1))
    return s.astype(np.float32), a.astype(np.float32)


def _batch(s: np.ndarray, a: np.ndarray, scaler: dict[str, list[float]]) -> TransitionBatch:
    obs = (s - scaler["mean"][0]) / scaler["std"][0]
    return TransitionBatch.from_numpy(obs, a, obs, np.zeros(len(s), dtype=np.float32))


def train_sine_models(
    updates: int = 3000,
    seed: int = 0,
    *,
    batch_size: int = 128,
    hidden: tuple[int, ...] = (64, 64),
    lr: float = 1e-3,
    num_expert: int = 1000,
    drail_options: Mapping[str, Any] | None = None,
) -> tuple[dict[str, RewardModel], dict[str, list[float]], dict[str, Any]]:
    """Train a GAIL and a DRAIL reward model on the same expert and agent batches.

    Both use the same hidden widths, learning rate, number of updates and batches; DRAIL also
    gets ``drail_options`` (default :data:`DRAIL_OPTIONS`). The state s is standardised with
    the expert samples' mean and std, as the trainer does.

    Returns ``(models, scaler, data)``: the models by name, the scaler dict ``{"mean", "std"}``
    and the expert samples ``{"s", "a"}`` plus the last updates' metrics per model.
    """
    rng = np.random.default_rng(seed)
    expert_s, expert_a = sample_expert(num_expert, rng)
    scaler = {"mean": [float(expert_s.mean())], "std": [float(expert_s.std())]}
    shared = {"hidden": list(hidden), "lr": lr}
    configs = {
        "gail": shared,
        "drail": {**shared, **(DRAIL_OPTIONS if drail_options is None else drail_options)},
    }
    metrics: dict[str, dict[str, list[float]]] = {name: {} for name in MODELS}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        models = {name: make_reward_model(name, 1, 1, configs[name]) for name in MODELS}
        for step in range(updates):
            idx = rng.integers(0, num_expert, size=batch_size)
            expert = _batch(expert_s[idx], expert_a[idx], scaler)
            agent = _batch(*sample_agent(batch_size, rng), scaler)
            for name, model in models.items():
                out = model.update(expert, agent)
                if step >= updates - 50:  # average the last updates' metrics
                    for key in ("loss", "expert_acc", "agent_acc"):
                        metrics[name].setdefault(key, []).append(out[key])
    final = {name: {k: float(np.mean(v)) for k, v in m.items()} for name, m in metrics.items()}
    return models, scaler, {"s": expert_s, "a": expert_a, "metrics": final, "configs": configs}


def _max_abs(x: np.ndarray, where: np.ndarray | None = None) -> float:
    x = np.abs(x)
    if where is not None:
        x = x[where]
    return float(x.max()) if x.size else float("nan")


def run_sine_toy(
    out_dir: str | PathLike,
    updates: int = 3000,
    seed: int = 0,
    *,
    draws: int = 64,
    grid: tuple[int, int] = (201, 121),
    batch_size: int = 128,
    hidden: tuple[int, ...] = (64, 64),
    lr: float = 1e-3,
    drail_options: Mapping[str, Any] | None = None,
    threads: int | None = 1,
) -> dict[str, Any]:
    """Train GAIL and DRAIL on the sine toy, save ``sine_rewards.png`` and ``.json``.

    The rewards (``reward_type="airl"``: the logit log D - log(1 - D) of both models) are
    evaluated on a ``grid = (n_s, n_a)`` over [0, 10] x [-1.5, 1.5] and on the expert curve
    a*(s) at the same s values. DRAIL's estimate averages ``draws`` (t, eps) draws, shared by
    all s (common random numbers, see :func:`reward_surface`).

    Per model the JSON holds: ``max_slope_curve`` = max |d r(s, a*(s)) / ds| (finite differences
    along the curve), ``max_slope_grid`` = max |dr/ds| over the grid at fixed a, the same
    divided by the reward range (``*_rel``, scale-free), slopes on uncovered s only, reward
    min/max/range, mean rewards on the curve and 1.0 away from it (covered and uncovered s),
    the accuracy of the averaged reward's sign on fresh samples (``test_*_acc``) and the mean
    loss/accuracy of the last 50 updates (``train_*``). Torch runs on ``threads`` threads
    meanwhile (None = as is). Returns the JSON's dict.
    """
    with _torch_threads(threads):
        return _run(out_dir, updates, seed, draws, grid, batch_size, hidden, lr, drail_options)


def _run(
    out_dir: str | PathLike,
    updates: int,
    seed: int,
    draws: int,
    grid: tuple[int, int],
    batch_size: int,
    hidden: tuple[int, ...],
    lr: float,
    drail_options: Mapping[str, Any] | None,
) -> dict[str, Any]:
    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    models, scaler, data = train_sine_models(
        updates, seed, batch_size=batch_size, hidden=hidden, lr=lr, drail_options=drail_options
    )
    train_seconds = time.perf_counter() - started

    n_s, n_a = grid
    s = np.linspace(*S_RANGE, n_s)
    a = np.linspace(*A_RANGE, n_a)
    curve = expert_curve(s)
    off = np.where(curve > 0, curve - 1.0, curve + 1.0)  # 1.0 away, inside the box
    # columns: the grid's actions, then the curve, then the off-curve points (one per s)
    columns = [np.broadcast_to(a, (n_s, n_a)), curve[:, None], off[:, None]]
    acts = np.concatenate(columns, axis=1)[..., None]
    obs = np.broadcast_to(s[:, None, None], acts.shape)
    ds = s[1] - s[0]
    is_cov = covered(s)
    seg_cov = covered(0.5 * (s[1:] + s[:-1]))  # finite differences live between grid points

    rng = np.random.default_rng(seed + 1)
    test_expert = sample_expert(2000, rng)
    test_agent = sample_agent(2000, rng)
    results: dict[str, Any] = {}
    surfaces: dict[str, np.ndarray] = {}
    for name, model in models.items():
        r_e = reward_surface(model, scaler, *test_expert, draws=draws, seed=seed)
        r_a = reward_surface(model, scaler, *test_agent, draws=draws, seed=seed)
        r = reward_surface(model, scaler, obs, acts, draws=draws, seed=seed)
        surface, on_curve, off_curve = r[:, :n_a], r[:, n_a], r[:, n_a + 1]
        surfaces[name] = surface
        slope_curve = np.diff(on_curve) / ds
        slope_grid = np.diff(surface, axis=0) / ds
        lo, hi = float(surface.min()), float(surface.max())
        span = max(hi - lo, 1e-12)
        results[name] = {
            "max_slope_curve": _max_abs(slope_curve),
            "max_slope_grid": _max_abs(slope_grid),
            "max_slope_curve_rel": _max_abs(slope_curve) / span,
            "max_slope_grid_rel": _max_abs(slope_grid) / span,
            "max_slope_curve_uncovered": _max_abs(slope_curve, ~seg_cov),
            "mean_abs_slope_curve": float(np.abs(slope_curve).mean()),
            "reward_min": lo,
            "reward_max": hi,
            "reward_range": hi - lo,
            "mean_on_curve_covered": float(on_curve[is_cov].mean()),
            "mean_off_curve_covered": float(off_curve[is_cov].mean()),
            "mean_on_curve_uncovered": float(on_curve[~is_cov].mean()),
            "mean_off_curve_uncovered": float(off_curve[~is_cov].mean()),
            "test_expert_acc": float((r_e > 0).mean()),
            "test_agent_acc": float((r_a < 0).mean()),
            **{f"train_{k}": v for k, v in data["metrics"][name].items()},
        }
    results["settings"] = {
        "updates": updates,
        "seed": seed,
        "batch_size": batch_size,
        "hidden": list(hidden),
        "lr": lr,
        "model_configs": data["configs"],
        "num_expert": len(data["s"]),
        "noise_std": NOISE_STD,
        "frequency": FREQUENCY,
        "covered_intervals": [list(iv) for iv in COVERED_INTERVALS],
        "reward_type": "airl (logit)",
        "drail_eval_draws": draws,
        "grid": [n_s, n_a],
        "ds": float(ds),
        "train_seconds": round(train_seconds, 2),
        "seconds": round(time.perf_counter() - started, 2),
    }
    (out / "sine_rewards.json").write_text(json.dumps(results, indent=2))
    _plot(out / "sine_rewards.png", surfaces, results, data, s, a)
    return results


def _plot(
    path: Path,
    surfaces: dict[str, np.ndarray],
    results: dict[str, Any],
    data: dict[str, Any],
    s: np.ndarray,
    a: np.ndarray,
) -> None:
    fig, axes = plt.subplots(1, len(surfaces), figsize=(6.2 * len(surfaces), 4.4))
    s_fine = np.linspace(*S_RANGE, 400)
    for ax, (name, surface) in zip(np.atleast_1d(axes), surfaces.items(), strict=True):
        image = ax.imshow(
            surface.T,
            origin="lower",
            aspect="auto",
            extent=(s[0], s[-1], a[0], a[-1]),
            cmap="viridis",
            interpolation="nearest",
        )
        fig.colorbar(image, ax=ax, label="reward (logit)")
        for lo, hi in COVERED_INTERVALS:
            ax.axvspan(lo, hi, ymin=0.0, ymax=0.025, color="orange")
            ax.axvline(lo, color="white", lw=0.5, ls=":", alpha=0.7)
            ax.axvline(hi, color="white", lw=0.5, ls=":", alpha=0.7)
        ax.plot(s_fine, expert_curve(s_fine), color="white", lw=0.8, ls="--", alpha=0.8)
        ax.scatter(data["s"][:, 0], data["a"][:, 0], s=1.5, c="red", alpha=0.6, lw=0)
        res = results[name]
        how = ""
        if name == "drail":
            how = f"\n(mean of {results['settings']['drail_eval_draws']} draws, shared along s)"
        ax.set_title(
            f"{name.upper()}: max |dr/ds| on curve {res['max_slope_curve']:.3g}, "
            f"on grid {res['max_slope_grid']:.3g}{how}",
            fontsize=10,
        )
        ax.set_xlabel("state s   (orange: covered by expert data)")
        ax.set_ylabel("action a")
    fig.suptitle(
        "Sine toy: learned rewards r(s, a); red dots = expert samples, dashed = sin(2π·0.1·s)",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

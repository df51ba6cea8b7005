"""The report's pictures: learning curves with CI bands, performance profiles, reward maps."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from diffil.bench.results import FINISHED, CellResult
from diffil.bench.stats import performance_profile, profile_band, stratified_bootstrap

CURVE_REPS = 1000


def _scores_by_task(cells: list[CellResult]) -> np.ndarray:
    """Scores as (runs, tasks), NaN-padded where tasks have fewer finished runs."""
    tasks = sorted({c.task for c in cells})
    columns = [[c.score for c in cells if c.task == t and c.score is not None] for t in tasks]
    rows = max((len(col) for col in columns), default=0)
    table = np.full((rows, len(tasks)), np.nan)
    for j, col in enumerate(columns):
        table[: len(col), j] = col
    return table


def method_scores(cells: list[CellResult], method: str) -> np.ndarray:
    """The finished scores of ``method`` among ``cells``, as (runs, tasks)."""
    return _scores_by_task([c for c in cells if c.method == method and c.state == FINISHED])


def plot_learning_curves(cells: list[CellResult], methods: list[str], title: str, out: Path):
    """Mean score against env steps per method, with a 95% stratified-bootstrap band over runs;
    offline methods (no env steps) as dashed lines at their final mean."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    metric = next((c.metric for c in cells if c.metric), "score")
    for i, method in enumerate(methods):
        colour = colours[i % len(colours)]
        mine = [c for c in cells if c.method == method and c.state == FINISHED]
        if not mine:
            continue
        if not mine[0].online:
            level = np.nanmean([c.score for c in mine])
            ax.axhline(level, ls="--", lw=1.2, color=colour, label=f"{method} (offline)")
            continue
        steps = sorted({s for c in mine for s, _ in c.curve})
        xs, ys, lows, highs = [], [], [], []
        for step in steps:
            at = [c for c in mine if any(s == step for s, _ in c.curve)]
            if 2 * len(at) < len(mine):  # a step most runs have not reached
                continue
            table = _scores_by_task([_with_score(c, dict(c.curve)[step]) for c in at])
            finite = table[np.isfinite(table)]
            samples = stratified_bootstrap(table, lambda s: s.mean(axis=1), reps=CURVE_REPS)
            xs.append(step)
            ys.append(finite.mean())
            low, high = np.percentile(samples, [2.5, 97.5])
            lows.append(low)
            highs.append(high)
        if xs:
            ax.plot(xs, ys, color=colour, label=method)
            ax.fill_between(xs, lows, highs, color=colour, alpha=0.2, lw=0)
    ax.set(xlabel="environment steps", ylabel=f"evaluation {metric} (mean, 95% CI)", title=title)
    return _save(fig, ax, out)


def _save(fig: plt.Figure, ax: plt.Axes, out: Path) -> Path:
    """Grid, legend, then write ``out`` and free the figure."""
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _with_score(cell: CellResult, score: float) -> CellResult:
    from dataclasses import replace

    return replace(cell, score=score)


def plot_profiles(cells: list[CellResult], methods: list[str], title: str, out: Path) -> Path:
    """Performance profiles: fraction of runs scoring above tau, with 95% bootstrap bands."""
    finished = [c.score for c in cells if c.score is not None]
    top = max(1.0, max(finished, default=1.0))
    taus = np.linspace(0.0, top, 101)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, method in enumerate(methods):
        scores = method_scores(cells, method)
        if not np.isfinite(scores).any():
            continue
        colour = colours[i % len(colours)]
        low, high = profile_band(scores, taus)
        ax.plot(taus, performance_profile(scores, taus), color=colour, label=method)
        ax.fill_between(taus, low, high, color=colour, alpha=0.15, lw=0)
    metric = next((c.metric for c in cells if c.metric), "score")
    ax.set(xlabel=f"{metric} threshold τ", ylabel="fraction of runs with score > τ", title=title)
    ax.set_ylim(-0.02, 1.02)
    return _save(fig, ax, out)


def plot_summary(levels: list[dict], methods: list[str], title: str, out: Path) -> Path:
    """IQM with its 95% CI per method across the report's levels (error bars), and the
    published figures where the suite records them (hollow markers)."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    xs = np.arange(len(levels))
    width = 0.8 / max(1, len(methods))
    for i, method in enumerate(methods):
        colour = colours[i % len(colours)]
        rows = [next((r for r in lv["rows"] if r["method"] == method), None) for lv in levels]
        at = [(x + (i - (len(methods) - 1) / 2) * width, r) for x, r in zip(xs, rows, strict=True)]
        shown = [(x, r["iqm"]) for x, r in at if r and np.isfinite(r["iqm"]["value"])]
        if shown:
            x, est = zip(*shown, strict=True)
            y = np.array([e["value"] for e in est])
            err = np.array([[v - e["low"], e["high"] - v] for v, e in zip(y, est, strict=True)]).T
            ax.errorbar(x, y, yerr=err, fmt="o", color=colour, capsize=3, label=method)
        paper = [(x, r["published"]) for x, r in at if r and r.get("published") is not None]
        if paper:
            x, y = zip(*paper, strict=True)
            ax.scatter(x, y, marker="D", facecolors="none", edgecolors=colour, s=36)
    if any(r.get("published") is not None for lv in levels for r in lv["rows"]):
        ax.scatter([], [], marker="D", facecolors="none", edgecolors="grey", label="published")
    ax.set_xticks(xs, [lv["regime"] for lv in levels])
    metric = levels[0]["metric"] if levels else "score"
    ax.set(ylabel=f"final {metric} (IQM, 95% CI)", title=title)
    return _save(fig, ax, out)


def reward_map(cell_dir: Path, out: Path) -> Path:
    """The learned reward of a maze run over positions (diffil.algorithms.reward_map), made once."""
    from diffil.algorithms.reward_map import plot_maze_reward

    policy = cell_dir / "policy.pt"
    if out.exists() and policy.exists() and out.stat().st_mtime >= policy.stat().st_mtime:
        return out
    return plot_maze_reward(cell_dir, out, resolution=30, draws=8)

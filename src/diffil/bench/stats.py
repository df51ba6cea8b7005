"""Aggregate scores over seeds and tasks with honest uncertainty: IQM, mean, bootstrap CIs,
performance profiles.

This is the method of Agarwal et al., "Deep Reinforcement Learning at the Edge of the
Statistical Precipice" (NeurIPS 2021), as its ``rliable`` library implements it
(``rliable.library.get_interval_estimates`` with its default percentile intervals, and
``rliable.metrics``), written here in numpy so that diffil does not depend on rliable's
dependencies (arch, statsmodels, seaborn):

- scores are a ``(runs, tasks)`` array (NaN marks a missing run of a task);
- the IQM is the mean of the middle 50% of all runs x tasks scores (``scipy.stats.trim_mean``
  with proportion 0.25: ``int(0.25 n)`` scores cut from each end);
- a *stratified* bootstrap resamples the runs of each task with replacement, independently per
  task (the stratum), and recomputes the statistic; the 95% CI is the 2.5th and 97.5th
  percentiles of those statistics;
- a performance profile is, for each threshold tau, the fraction of runs scoring above tau,
  averaged over tasks;
- a difference between two methods resamples each method's runs independently;
- the probability of improvement P(X > Y) is the chance that a run of one method scores above a
  run of the other on the same task (ties count one half), averaged over tasks
  (``rliable.metrics.probability_of_improvement``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Statistic = Callable[[np.ndarray], np.ndarray]  # (reps, n) -> (reps,)


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean of every finite score (25% trimmed from each end)."""
    values = np.asarray(scores, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan")
    return float(_iqm_rows(values[None, :])[0])


def mean(scores: np.ndarray) -> float:
    """Mean of every finite score."""
    values = np.asarray(scores, dtype=float)
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")


def _iqm_rows(samples: np.ndarray) -> np.ndarray:
    """IQM of each row of ``samples`` (reps, n)."""
    n = samples.shape[1]
    cut = int(0.25 * n)
    ordered = np.sort(samples, axis=1)
    return ordered[:, cut : n - cut].mean(axis=1)


def _mean_rows(samples: np.ndarray) -> np.ndarray:
    return samples.mean(axis=1)


STATISTICS: dict[str, Statistic] = {"iqm": _iqm_rows, "mean": _mean_rows}


def _strata(scores: np.ndarray) -> list[np.ndarray]:
    """The finite runs of each task (column) of ``scores``."""
    scores = np.asarray(scores, dtype=float)
    if scores.ndim == 1:
        scores = scores[:, None]
    columns = [scores[:, j][np.isfinite(scores[:, j])] for j in range(scores.shape[1])]
    return [c for c in columns if c.size]


def stratified_bootstrap(
    scores: np.ndarray, statistic: Statistic, reps: int = 10_000, seed: int = 0
) -> np.ndarray:
    """``reps`` values of ``statistic`` on resamples that draw, for every task, as many runs as
    it has, with replacement, from that task's runs only."""
    rng = np.random.default_rng(seed)
    parts = []
    for runs in _strata(scores):
        idx = rng.integers(0, runs.size, size=(reps, runs.size))
        parts.append(runs[idx])
    if not parts:
        return np.full(reps, np.nan)
    return statistic(np.concatenate(parts, axis=1))


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95% stratified-bootstrap confidence interval."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}


def point_estimate(scores: np.ndarray, statistic: str = "iqm") -> float:
    """``statistic`` (``iqm`` or ``mean``) of every finite run of ``scores`` (runs x tasks), the
    same function the bootstrap resamples; NaN without finite runs."""
    strata = _strata(scores)
    if not strata:
        return float("nan")
    return float(STATISTICS[statistic](np.concatenate(strata)[None, :])[0])


def interval_estimate(
    scores: np.ndarray, statistic: str = "iqm", reps: int = 10_000, seed: int = 0
) -> Estimate:
    """``statistic`` (``iqm`` or ``mean``) of ``scores`` (runs x tasks) with its 95% CI."""
    value = point_estimate(scores, statistic)
    if not np.isfinite(value):
        nan = float("nan")
        return Estimate(nan, nan, nan)
    samples = stratified_bootstrap(scores, STATISTICS[statistic], reps=reps, seed=seed)
    low, high = np.percentile(samples, [2.5, 97.5])
    return Estimate(value, float(low), float(high))


def performance_profile(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """Fraction of runs with a score above each ``tau``, averaged over tasks."""
    strata = _strata(scores)
    taus = np.asarray(taus, dtype=float)
    if not strata:
        return np.full(taus.shape, np.nan)
    return np.mean([(runs[:, None] > taus[None, :]).mean(axis=0) for runs in strata], axis=0)


def profile_band(
    scores: np.ndarray, taus: np.ndarray, reps: int = 2000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """95% stratified-bootstrap band (low, high) of :func:`performance_profile`."""
    rng = np.random.default_rng(seed)
    strata = _strata(scores)
    taus = np.asarray(taus, dtype=float)
    if not strata:
        nan = np.full(taus.shape, np.nan)
        return nan, nan
    total = np.zeros((reps, taus.size))
    for runs in strata:
        sample = runs[rng.integers(0, runs.size, size=(reps, runs.size))]  # (reps, n)
        total += (sample[:, :, None] > taus[None, None, :]).mean(axis=1)
    profiles = total / len(strata)
    low, high = np.percentile(profiles, [2.5, 97.5], axis=0)
    return low, high


def difference_estimate(
    a: np.ndarray, b: np.ndarray, statistic: str = "iqm", reps: int = 10_000, seed: int = 0
) -> Estimate:
    """``statistic(a) - statistic(b)`` of two methods' scores (runs x tasks each) with its 95% CI:
    each method's runs are resampled independently (stratified by task), ``a`` with ``seed``
    and ``b`` with ``seed + 1``."""
    value = point_estimate(a, statistic) - point_estimate(b, statistic)
    if not np.isfinite(value):  # a method without finished runs
        nan = float("nan")
        return Estimate(nan, nan, nan)
    func = STATISTICS[statistic]
    samples = stratified_bootstrap(a, func, reps, seed) - stratified_bootstrap(
        b, func, reps, seed + 1
    )
    low, high = np.percentile(samples, [2.5, 97.5])
    return Estimate(value, float(low), float(high))


def _as_columns(scores: np.ndarray) -> np.ndarray:
    """``scores`` as (runs, tasks): a 1-D array is one task's runs."""
    scores = np.asarray(scores, dtype=float)
    return scores[:, None] if scores.ndim == 1 else scores


def _beats(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """For resamples x (reps, n) and y (reps, m): the share of pairs with x > y, ties one half."""
    gt = (x[:, :, None] > y[:, None, :]).mean(axis=(1, 2))
    eq = (x[:, :, None] == y[:, None, :]).mean(axis=(1, 2))
    return gt + 0.5 * eq


def probability_of_improvement(
    a: np.ndarray, b: np.ndarray, reps: int = 10_000, seed: int = 0
) -> Estimate:
    """P(X > Y): the chance that a run of method ``a`` scores above a run of method ``b`` on the
    same task (ties count one half), averaged over the tasks both have runs of (columns of the
    runs x tasks arrays), with a 95% CI from stratified bootstraps of both."""
    a, b = _as_columns(a), _as_columns(b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"a has {a.shape[1]} tasks and b {b.shape[1]}: columns must match")
    rng = np.random.default_rng(seed)
    values, samples = [], []
    for j in range(a.shape[1]):
        x, y = a[:, j][np.isfinite(a[:, j])], b[:, j][np.isfinite(b[:, j])]
        if not (x.size and y.size):
            continue
        values.append(float(_beats(x[None, :], y[None, :])[0]))
        xs = x[rng.integers(0, x.size, size=(reps, x.size))]
        ys = y[rng.integers(0, y.size, size=(reps, y.size))]
        samples.append(_beats(xs, ys))
    if not values:
        nan = float("nan")
        return Estimate(nan, nan, nan)
    low, high = np.percentile(np.mean(samples, axis=0), [2.5, 97.5])
    return Estimate(float(np.mean(values)), float(low), float(high))

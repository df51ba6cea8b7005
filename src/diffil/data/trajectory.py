"""Demonstrations: the :class:`Trajectory` type and a :class:`TrajectoryDataset` of them.

Layout follows Minari's: an episode of ``T`` steps has ``T + 1`` observations (the last one is the
observation after the final action), ``T`` actions, and per-step ``terminations`` / ``truncations``
flags. Per-step infos (``success`` or ``is_success`` for goal tasks) are arrays of length ``T``,
aligned with actions. Observations and actions are flat float vectors; goal-conditioned dict
observations are flattened by the task (see :mod:`diffil.envs`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Info keys that report success, in order of preference (gymnasium-robotics says "success",
#: goal-conditioned gymnasium environments "is_success"). Defined here, below the envs that
#: use it, so that the data layer imports nothing from diffil.envs.
SUCCESS_INFO_KEYS = ("success", "is_success")

#: Per-step info flag of episodes a generative model made (``diffil augment``); every dataset
#: format keeps it, and episodes without it are real.
SYNTHETIC_INFO_KEY = "synthetic"


@dataclass
class Trajectory:
    """One episode: ``observations`` (T+1, obs_dim), ``actions`` (T, act_dim) and flags (T,)."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray | None = None
    terminations: np.ndarray | None = None
    truncations: np.ndarray | None = None
    infos: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.observations = np.asarray(self.observations)
        self.actions = np.asarray(self.actions)
        n = len(self.actions)
        if self.rewards is not None:
            self.rewards = np.asarray(self.rewards, dtype=np.float64)
        self.terminations = (
            np.zeros(n, dtype=bool) if self.terminations is None else np.asarray(self.terminations)
        ).astype(bool)
        self.truncations = (
            np.zeros(n, dtype=bool) if self.truncations is None else np.asarray(self.truncations)
        ).astype(bool)
        self.infos = {k: np.asarray(v) for k, v in self.infos.items()}

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def obs(self) -> np.ndarray:
        """Observations at which each action was taken, (T, obs_dim)."""
        return self.observations[:-1]

    @property
    def next_obs(self) -> np.ndarray:
        """Observations after each action, (T, obs_dim)."""
        return self.observations[1:]

    @property
    def terminated(self) -> bool:
        """Whether the episode ended in a terminal state (not a time limit)."""
        return bool(len(self) and self.terminations[-1])

    @property
    def episode_return(self) -> float:
        return float(np.sum(self.rewards)) if self.rewards is not None else math.nan

    @property
    def success(self) -> bool | None:
        """Whether the success flag (``info["success"]`` or ``info["is_success"]``) was ever
        raised; None for tasks without one."""
        key = next((k for k in SUCCESS_INFO_KEYS if k in self.infos), None)
        if key is None:
            return None
        return bool(np.any(self.infos[key]))

    @property
    def synthetic(self) -> bool:
        """Whether a generative model made this episode (``infos["synthetic"]``)."""
        flags = self.infos.get(SYNTHETIC_INFO_KEY)
        return bool(flags is not None and np.any(flags))

    def slice(self, start: int, stop: int) -> Trajectory:
        """Steps ``start:stop`` as a trajectory of their own (observations ``start:stop+1``)."""
        return Trajectory(
            observations=self.observations[start : stop + 1],
            actions=self.actions[start:stop],
            rewards=None if self.rewards is None else self.rewards[start:stop],
            terminations=self.terminations[start:stop],
            truncations=self.truncations[start:stop],
            infos={k: v[start:stop] for k, v in self.infos.items()},
        )


@dataclass
class Transitions:
    """Flat arrays of (s, a, s', done) with one row per step, for reward models and RL."""

    obs: np.ndarray
    acts: np.ndarray
    next_obs: np.ndarray
    dones: np.ndarray
    rewards: np.ndarray | None = None
    # (N,) bool: rows standing for the absorbing state after a termination (None: no such rows;
    # see diffil.rewards.absorbing)
    absorbing: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.acts)

    def sample(self, batch_size: int, rng: np.random.Generator) -> Transitions:
        """A batch drawn uniformly with replacement."""
        idx = rng.integers(0, len(self), size=batch_size)
        return Transitions(
            self.obs[idx],
            self.acts[idx],
            self.next_obs[idx],
            self.dones[idx],
            None if self.rewards is None else self.rewards[idx],
            None if self.absorbing is None else self.absorbing[idx],
        )


@dataclass
class Windows:
    """K-step sections: ``observations`` (N, K+1, obs_dim) and ``actions`` (N, K, act_dim)."""

    observations: np.ndarray
    actions: np.ndarray
    episode_index: np.ndarray
    start_step: np.ndarray

    def __len__(self) -> int:
        return len(self.actions)


class TrajectoryDataset(Sequence[Trajectory]):
    """An ordered collection of trajectories with provenance ``metadata`` (a JSON-able dict)."""

    def __init__(self, trajectories: Sequence[Trajectory], metadata: dict[str, Any] | None = None):
        self.trajectories = list(trajectories)
        self.metadata: dict[str, Any] = dict(metadata or {})

    def __len__(self) -> int:
        return len(self.trajectories)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return TrajectoryDataset(self.trajectories[index], copy.deepcopy(self.metadata))
        return self.trajectories[index]

    def __iter__(self) -> Iterator[Trajectory]:
        return iter(self.trajectories)

    def __repr__(self) -> str:
        task = self.metadata.get("task", "?")
        return (
            f"TrajectoryDataset(task={task!r}, episodes={len(self)}, "
            f"transitions={self.num_transitions}, obs_dim={self.obs_dim}, act_dim={self.act_dim})"
        )

    @property
    def num_transitions(self) -> int:
        return sum(len(t) for t in self.trajectories)

    @property
    def obs_dim(self) -> int | None:
        return int(self.trajectories[0].observations.shape[-1]) if self.trajectories else None

    @property
    def act_dim(self) -> int | None:
        return int(self.trajectories[0].actions.shape[-1]) if self.trajectories else None

    @property
    def task(self) -> str | None:
        return self.metadata.get("task")

    @property
    def has_rewards(self) -> bool:
        return bool(self.trajectories) and all(t.rewards is not None for t in self.trajectories)

    def _derived(self, trajectories: Sequence[Trajectory], **note: Any) -> TrajectoryDataset:
        metadata = copy.deepcopy(self.metadata)
        metadata.setdefault("derived", []).append(note)
        return TrajectoryDataset(trajectories, metadata)

    # ---- views used by learners -------------------------------------------------------------

    def transitions(self) -> Transitions:
        """All steps as flat (s, a, s', done) arrays; ``done`` marks true terminations only."""
        if not self.trajectories:
            raise ValueError("the dataset has no trajectories")
        return Transitions(
            obs=np.concatenate([t.obs for t in self]),
            acts=np.concatenate([t.actions for t in self]),
            next_obs=np.concatenate([t.next_obs for t in self]),
            dones=np.concatenate([t.terminations for t in self]),
            rewards=np.concatenate([t.rewards for t in self]) if self.has_rewards else None,
        )

    def windows(self, k: int, stride: int | None = None, drop_short: bool = True) -> Windows:
        """K-step sections of every trajectory (reference 004, Algorithm 5).

        Algorithm 5 steps the window by ``K`` (non-overlapping sections); pass ``stride=1`` for a
        fully sliding window. Sections shorter than ``K`` at the end of an episode are dropped
        (they would make the batch ragged) unless ``drop_short=False`` and they can be padded by
        repeating the last observation with zero actions.
        """
        if k < 1:
            raise ValueError(f"window length K must be >= 1, got {k}")
        stride = k if stride is None else stride
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        obs, acts, episodes, starts = [], [], [], []
        for e, traj in enumerate(self.trajectories):
            for step in range(0, len(traj), stride):
                section_obs = traj.observations[step : step + k + 1]
                section_act = traj.actions[step : step + k]
                if len(section_act) < k:
                    if drop_short:
                        continue
                    pad = k - len(section_act)
                    section_obs = np.concatenate([section_obs, np.repeat(section_obs[-1:], pad, 0)])
                    section_act = np.concatenate(
                        [section_act, np.zeros((pad, section_act.shape[-1]), section_act.dtype)]
                    )
                obs.append(section_obs)
                acts.append(section_act)
                episodes.append(e)
                starts.append(step)
        obs_dim, act_dim = self.obs_dim or 0, self.act_dim or 0
        return Windows(
            observations=np.asarray(obs).reshape(-1, k + 1, obs_dim),
            actions=np.asarray(acts).reshape(-1, k, act_dim),
            episode_index=np.asarray(episodes, dtype=np.int64),
            start_step=np.asarray(starts, dtype=np.int64),
        )

    # ---- subsets for data-efficiency studies ------------------------------------------------

    def subset(
        self,
        num_trajectories: int | None = None,
        num_transitions: int | None = None,
        seed: int | None = None,
    ) -> TrajectoryDataset:
        """The first ``num_trajectories`` episodes, or episodes up to ``num_transitions`` steps.

        With ``seed`` the episodes are shuffled first, so different seeds give different subsets.
        With ``num_transitions`` the last episode is cut so the total is exactly that number.
        """
        if (num_trajectories is None) == (num_transitions is None):
            raise ValueError("give exactly one of num_trajectories or num_transitions")
        order = np.arange(len(self))
        if seed is not None:
            order = np.random.default_rng(seed).permutation(len(self))
        if num_trajectories is not None:
            if not 1 <= num_trajectories <= len(self):
                raise ValueError(
                    f"num_trajectories must be in 1..{len(self)}, got {num_trajectories}"
                )
            chosen = [self.trajectories[i] for i in order[:num_trajectories]]
            return self._derived(chosen, op="subset", num_trajectories=num_trajectories, seed=seed)
        assert num_transitions is not None
        if not 1 <= num_transitions <= self.num_transitions:
            raise ValueError(
                f"num_transitions must be in 1..{self.num_transitions}, got {num_transitions}"
            )
        chosen, remaining = [], num_transitions
        for i in order:
            traj = self.trajectories[i]
            chosen.append(traj if len(traj) <= remaining else traj.slice(0, remaining))
            remaining -= len(chosen[-1])
            if remaining == 0:
                break
        return self._derived(chosen, op="subset", num_transitions=num_transitions, seed=seed)

    def split(
        self, val_fraction: float = 0.1, seed: int = 0
    ) -> tuple[TrajectoryDataset, TrajectoryDataset]:
        """A (train, validation) split by whole episodes; validation gets at least one episode."""
        if not 0.0 < val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
        if len(self) < 2:
            raise ValueError("need at least 2 trajectories to split")
        order = np.random.default_rng(seed).permutation(len(self))
        n_val = min(len(self) - 1, max(1, round(val_fraction * len(self))))
        val = [self.trajectories[i] for i in sorted(order[:n_val])]
        train = [self.trajectories[i] for i in sorted(order[n_val:])]
        return (
            self._derived(train, op="split", part="train", val_fraction=val_fraction, seed=seed),
            self._derived(val, op="split", part="validation", val_fraction=val_fraction, seed=seed),
        )

    # ---- summaries ---------------------------------------------------------------------------

    def statistics(self) -> dict[str, Any]:
        """Counts, dimensions, and return / length / success statistics."""
        lengths = np.array([len(t) for t in self], dtype=np.float64)
        stats: dict[str, Any] = {
            "episodes": len(self),
            "transitions": self.num_transitions,
            "obs_dim": self.obs_dim,
            "act_dim": self.act_dim,
            "length_mean": float(lengths.mean()) if len(lengths) else math.nan,
            "length_min": int(lengths.min()) if len(lengths) else 0,
            "length_max": int(lengths.max()) if len(lengths) else 0,
        }
        if self.has_rewards:
            returns = np.array([t.episode_return for t in self])
            stats.update(
                return_mean=float(returns.mean()),
                return_std=float(returns.std()),
                return_min=float(returns.min()),
                return_max=float(returns.max()),
            )
        if any(SYNTHETIC_INFO_KEY in t.infos for t in self):
            stats["synthetic_episodes"] = sum(t.synthetic for t in self)
        successes = [t.success for t in self]
        if successes and all(s is not None for s in successes):
            stats["success_rate"] = float(np.mean(successes))
        return stats

"""Trajectory and dataset views: transitions, K-step windows, subsets, splits."""

from __future__ import annotations

import numpy as np
import pytest

from diffil.data import Trajectory, TrajectoryDataset


def make_dataset(lengths, obs_dim=3, act_dim=2):
    trajs = []
    for e, n in enumerate(lengths):
        obs = np.arange((n + 1) * obs_dim, dtype=float).reshape(n + 1, obs_dim) + 1000 * e
        acts = np.full((n, act_dim), float(e))
        terms = np.zeros(n, bool)
        terms[-1] = e % 2 == 0
        trajs.append(Trajectory(obs, acts, rewards=np.ones(n), terminations=terms))
    return TrajectoryDataset(trajs, {"task": None})


def test_transitions_align_obs_action_and_next_obs():
    ds = make_dataset([4, 2])
    tr = ds.transitions()
    assert len(tr) == 6
    np.testing.assert_array_equal(tr.obs[:4], ds[0].observations[:-1])
    np.testing.assert_array_equal(tr.next_obs[:4], ds[0].observations[1:])
    np.testing.assert_array_equal(tr.next_obs[4:], ds[1].observations[1:])
    # only true terminations are marked done: episode 0 terminates, episode 1 does not
    assert tr.dones.tolist() == [False, False, False, True, False, False]
    batch = tr.sample(10, np.random.default_rng(0))
    assert batch.obs.shape == (10, 3) and batch.acts.shape == (10, 2)


def test_windows_follow_algorithm_5_non_overlapping_sections():
    ds = make_dataset([10, 7])
    w = ds.windows(k=3)
    # episode 0: starts 0, 3, 6 (9 would be short); episode 1: starts 0, 3 (6 is short)
    assert w.start_step.tolist() == [0, 3, 6, 0, 3]
    assert w.episode_index.tolist() == [0, 0, 0, 1, 1]
    assert w.observations.shape == (5, 4, 3) and w.actions.shape == (5, 3, 2)
    np.testing.assert_array_equal(w.observations[1], ds[0].observations[3:7])


def test_sliding_windows_and_padding():
    ds = make_dataset([5])
    assert len(ds.windows(k=3, stride=1)) == 3
    padded = ds.windows(k=3, drop_short=False)
    assert padded.start_step.tolist() == [0, 3]
    np.testing.assert_array_equal(padded.observations[1, -1], ds[0].observations[-1])
    with pytest.raises(ValueError):
        ds.windows(k=0)


def test_subsets_by_trajectories_and_exact_transition_count():
    ds = make_dataset([5, 5, 5, 5])
    assert len(ds.subset(num_trajectories=2)) == 2
    sub = ds.subset(num_transitions=12)
    assert sub.num_transitions == 12 and len(sub) == 3
    assert len(sub[2]) == 2 and len(sub[2].observations) == 3
    a = ds.subset(num_trajectories=2, seed=1)
    b = ds.subset(num_trajectories=2, seed=2)
    ids = lambda d: [int(t.observations[0, 0] // 1000) for t in d]  # noqa: E731
    assert ids(a) != ids(b) or ids(a) != ids(ds.subset(num_trajectories=2, seed=3))
    assert sub.metadata["derived"][-1]["num_transitions"] == 12
    with pytest.raises(ValueError):
        ds.subset(num_trajectories=5)


def test_split_is_disjoint_and_complete():
    ds = make_dataset([3] * 10)
    train, val = ds.split(val_fraction=0.2, seed=0)
    key = lambda t: float(t.observations[0, 0])  # noqa: E731
    assert len(train) == 8 and len(val) == 2
    assert {key(t) for t in train}.isdisjoint({key(t) for t in val})
    assert {key(t) for t in train} | {key(t) for t in val} == {key(t) for t in ds}


def test_statistics(umaze_demos):
    stats = umaze_demos.statistics()
    assert stats["episodes"] == 6 and stats["obs_dim"] == 6 and stats["act_dim"] == 2
    assert stats["success_rate"] == 1.0
    assert stats["return_mean"] == pytest.approx(1.0)  # sparse reward, episode ends on success

"""Reward-quality metrics: ERC and EPIC behave as their definitions say (reference 004)."""

from __future__ import annotations

import numpy as np
import pytest

from diffil.data.trajectory import Trajectory, TrajectoryDataset
from diffil.errors import DiffilError
from diffil.eval.reward_metrics import epic, erc, pearson_distance

GAMMA = 0.9


def true_reward(obs, acts, next_obs):
    return 5 * next_obs[:, 0] + 5 * next_obs[:, 1]  # highest in one corner, as in 004 sec. 3.4


def unrelated_reward(obs, acts, next_obs):
    return np.sin(7 * next_obs[:, 0]) * np.cos(11 * next_obs[:, 1]) + acts[:, 0] ** 2


def potential(obs):
    return 40 * obs[:, 0] ** 2 - 20 * obs[:, 1]


def shaped(obs, acts, next_obs):  # R + gamma phi(s') - phi(s): same optimal policies
    return true_reward(obs, acts, next_obs) + GAMMA * potential(next_obs) - potential(obs)


@pytest.fixture(scope="module")
def coverage():
    rng = np.random.default_rng(0)
    trajs = []
    for _ in range(60):
        acts = rng.uniform(-1, 1, (30, 2))
        obs = np.cumsum(np.vstack([rng.uniform(-1, 1, (1, 2)), 0.1 * acts]), axis=0)
        trajs.append(Trajectory(obs, acts.astype(np.float32)))
    return TrajectoryDataset(trajs)


def test_erc_zero_for_itself_invariant_to_scaling_high_for_unrelated(coverage):
    assert erc(true_reward, true_reward, coverage) == pytest.approx(0.0, abs=1e-6)
    scaled = lambda o, a, n: 3.0 * true_reward(o, a, n) + 2.0  # noqa: E731
    assert erc(true_reward, scaled, coverage) == pytest.approx(0.0, abs=1e-6)
    assert erc(true_reward, unrelated_reward, coverage) > 0.5
    negated = lambda o, a, n: -true_reward(o, a, n)  # noqa: E731
    assert erc(true_reward, negated, coverage) == pytest.approx(1.0, abs=1e-6)


def test_epic_ignores_potential_shaping_where_erc_does_not(coverage):
    transitions = coverage.transitions()
    assert epic(true_reward, shaped, transitions, gamma=GAMMA) < 0.05
    assert epic(true_reward, lambda o, a, n: 0.5 * shaped(o, a, n), transitions, GAMMA) < 0.05
    assert epic(true_reward, unrelated_reward, transitions, gamma=GAMMA) > 0.5
    assert erc(true_reward, shaped, coverage, gamma=GAMMA) > 0.1  # ERC is fooled by shaping


def test_degenerate_inputs_are_clear_errors(coverage):
    with pytest.raises(DiffilError, match="constant"):
        erc(true_reward, lambda o, a, n: np.zeros(len(o)), coverage)
    with pytest.raises(DiffilError, match="NaN"):
        pearson_distance(np.array([1.0, np.nan]), np.array([1.0, 2.0]))
    with pytest.raises(DiffilError, match="one value per transition"):
        erc(true_reward, lambda o, a, n: np.zeros((len(o), 2)), coverage)


def test_learned_reward_of_a_run_scores_transitions(tmp_path, coverage):
    from diffil.algorithms.run import train
    from diffil.data.collect import collect_demonstrations
    from diffil.eval.reward_metrics import learned_reward

    tiny = {
        "n_envs": 2, "num_demos": 5, "eval": {"every": 10_000, "episodes": 1},
        "ppo": {"n_steps": 64, "batch_size": 64, "n_epochs": 1, "net_arch": [16, 16]},
        "reward": {"updates_per_rollout": 2, "batch_size": 64, "model": {"hidden": [16, 16]}},
    }  # fmt: skip
    train("airl", "pointmaze-umaze", steps=256, out=tmp_path / "airl", overrides=tiny,
          progress=False)  # fmt: skip
    reward = learned_reward(tmp_path / "airl")
    trajs = collect_demonstrations("pointmaze-umaze", episodes=8, seed=1)
    t = trajs.transitions()
    r = reward(t.obs, t.acts, t.next_obs)
    assert r.shape == (len(t),) and np.all(np.isfinite(r))
    assert 0.0 <= erc(reward, lambda o, a, n: n[:, 0] + n[:, 1], trajs) <= 1.0

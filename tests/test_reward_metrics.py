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


def progress_reward(obs, acts, next_obs):  # moving towards the corner, step by step
    return next_obs[:, 0] + next_obs[:, 1] - obs[:, 0] - obs[:, 1]


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
    assert erc(progress_reward, unrelated_reward, coverage) == pytest.approx(0.5**0.5, abs=0.05)
    negated = lambda o, a, n: -true_reward(o, a, n)  # noqa: E731
    assert erc(true_reward, negated, coverage) == pytest.approx(1.0, abs=1e-6)


def test_erc_of_a_learned_reward_is_far_below_an_unrelated_ones(coverage):
    """A GAIL reward learned from demonstrations of the progress reward's optimum (move to the
    corner) orders the coverage episodes nearly as the progress reward does."""
    import torch

    from diffil.rewards import TransitionBatch, make_reward_model

    torch.manual_seed(0)
    model = make_reward_model("gail", 2, 2, {"hidden": [32, 32], "lr": 1e-3})
    t, rng = coverage.transitions(), np.random.default_rng(0)
    for _ in range(100):  # expert and agent see the same states; only the actions differ
        i, j = rng.integers(0, len(t), (2, 128))
        acts = np.clip(0.8 + 0.1 * rng.normal(size=(128, 2)), -1, 1)
        model.update(
            TransitionBatch.from_numpy(t.obs[i], acts, t.obs[i] + 0.1 * acts),
            TransitionBatch.from_numpy(t.obs[j], t.acts[j], t.next_obs[j]),
        )

    def learned(obs, acts, next_obs):
        return model.reward(TransitionBatch.from_numpy(obs, acts, next_obs)).numpy()

    assert erc(progress_reward, learned, coverage) < 0.4  # 0.15 to 0.25 over init seeds 0-4
    assert erc(progress_reward, unrelated_reward, coverage) > 0.65


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


def test_learned_reward_of_a_run_is_its_shaped_airl_reward_on_standardised_inputs(tmp_path):
    import torch

    from diffil.algorithms.reward_transfer import learned_reward, load_run_reward_model
    from diffil.algorithms.run import train
    from diffil.experts.collect import collect_demonstrations

    tiny = {
        "n_envs": 2, "num_demos": 5, "eval": {"every": 10_000, "episodes": 1, "final_episodes": 1},
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
    model, scaler, _ = load_run_reward_model(tmp_path / "airl")
    mean, std = np.asarray(scaler["mean"]), np.maximum(np.asarray(scaler["std"]), 1e-3)
    assert not np.allclose(std, 1.0)  # standardisation is not a no-op on this task
    s, s_next = (
        torch.as_tensor((x - mean) / std, dtype=torch.float32) for x in (t.obs, t.next_obs)
    )
    a = torch.as_tensor(t.acts, dtype=torch.float32)
    with torch.no_grad():  # f = g(s, a) + gamma h(s') - h(s), no log pi term
        g = model.g(torch.cat([s, a], dim=1)).squeeze(-1)
        f = g + model.config.gamma * model.h(s_next).squeeze(-1) - model.h(s).squeeze(-1)
    np.testing.assert_allclose(r, f.numpy(), rtol=1e-4, atol=1e-5)
    assert erc(reward, reward, trajs) == pytest.approx(0.0, abs=1e-6)  # deterministic

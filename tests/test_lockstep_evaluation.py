"""Evaluation on N environments in lockstep gives the episodes one environment would, and
refuses policies that cannot act on a batch."""

from __future__ import annotations

import numpy as np
import pytest

from diffil.data.collect import rollout, rollout_episode, rollout_lockstep
from diffil.envs.registry import get_task
from diffil.errors import DiffilError
from diffil.eval.evaluate import evaluate_policy


class LinearPolicy:
    """Deterministic and stateless (a gain on some joint angles); acts on (obs_dim,) or
    (N, obs_dim); counts its resets."""

    acts_on_batches = True

    def __init__(self, weights: np.ndarray):
        self.weights = weights
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        # elementwise only: the same floats for a row alone as in a batch (a matrix product
        # may sum in another order)
        obs = np.asarray(obs)
        return np.tanh(obs[..., 1 : 1 + len(self.weights)] * self.weights)


def _hopper_policy() -> LinearPolicy:
    task = get_task("hopper")
    return LinearPolicy(np.random.default_rng(3).normal(size=task.act_dim) * 3)


def _assert_same(a, b) -> None:
    for field in ("observations", "actions", "rewards", "terminations", "truncations"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_lockstep_episodes_equal_one_at_a_time_episodes():
    task = get_task("hopper")  # episodes end at different steps: finished ones must stay frozen
    policy = _hopper_policy()
    seeds = [11, 12, 13, 14]
    envs = [task.make_env(evaluation=True) for _ in seeds]
    together = rollout_lockstep(envs, policy, seeds)
    alone = [rollout_episode(envs[0], policy, seed=s) for s in seeds]
    assert len({len(t) for t in together}) > 1
    for a, b in zip(together, alone, strict=True):
        _assert_same(a, b)
    for env in envs:
        env.close()


def test_rollout_plays_groups_of_num_envs_episodes():
    task = get_task("hopper")
    policy = _hopper_policy()
    trajectories = rollout(task, policy, 7, seed=20, evaluation=True, num_envs=3)
    assert len(trajectories) == 7
    assert policy.resets == 3  # groups of 3, 3 and 1, each started (and reset) together
    env = task.make_env(evaluation=True)
    for k in range(3):  # the k-th environment's first episode is seeded with seed + k
        _assert_same(trajectories[k], rollout_episode(env, policy, seed=20 + k))
    env.close()
    together = evaluate_policy(task, policy, 3, seed=20, num_envs=3)
    assert together["episode_returns"] == pytest.approx(
        [t.episode_return for t in trajectories[:3]], abs=1e-3
    )
    assert np.mean(together["episode_returns"]) == pytest.approx(together["return_mean"], abs=1e-3)


def test_a_policy_that_acts_on_one_observation_is_refused_on_several_envs():
    task = get_task("pointmaze-umaze")

    def plain(obs):
        return np.zeros(2)

    with pytest.raises(DiffilError, match="one observation at a time"):
        evaluate_policy(task, plain, 4, num_envs=2)
    assert evaluate_policy(task, plain, 1, num_envs=2)["episodes"] == 1  # one episode: one env

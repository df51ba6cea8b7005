"""PPO's policy options: the tanh-bounded Gaussian mean (ppo.bounded_mean)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv

from diffil.envs.registry import get_task
from diffil.errors import DiffilError
from diffil.policy import Policy
from diffil.rl.ppo import BoundedMeanPolicy, PPOConfig, make_ppo, make_vec_env

SMALL = {"n_steps": 32, "batch_size": 32, "n_epochs": 1, "net_arch": (16, 16)}


def test_bounded_mean_stays_in_the_action_range_and_round_trips(tmp_path):
    venv = make_vec_env(get_task("pointmaze-umaze"), 1, 0)
    model = make_ppo(PPOConfig(bounded_mean=True, **SMALL), venv, seed=0)
    assert isinstance(model.policy, BoundedMeanPolicy)
    with torch.no_grad():  # a mean that an unbounded policy would put far outside [-1, 1]
        model.policy.action_net[0].bias.fill_(50.0)
    obs = np.random.default_rng(0).normal(size=(64, 6)).astype(np.float32)
    mean = model.policy.get_distribution(torch.as_tensor(obs)).distribution.mean
    assert mean.abs().max() <= 1.0
    # the noise still moves sampled actions below the bound (an unbounded mean of 50 would not)
    sampled, _ = model.predict(obs, deterministic=False)
    assert (sampled < 0.99).mean() > 0.2
    # the parameters of the bounded head are the ones the optimizer updates
    in_optimizer = {id(p) for group in model.policy.optimizer.param_groups for p in group["params"]}
    assert id(model.policy.action_net[0].weight) in in_optimizer
    model.save(tmp_path / "ppo.zip")
    loaded = PPO.load(tmp_path / "ppo.zip", env=venv)
    assert isinstance(loaded.policy, BoundedMeanPolicy)
    np.testing.assert_allclose(
        loaded.predict(obs, deterministic=True)[0], model.predict(obs, deterministic=True)[0]
    )
    exported = Policy.from_sb3(model)  # the tanh is part of the exported network
    np.testing.assert_allclose(
        exported.predict(obs), model.predict(obs, deterministic=True)[0], atol=1e-6
    )


def test_bounded_mean_refuses_other_action_ranges():
    venv = DummyVecEnv([lambda: gym.make("Pendulum-v1")])  # actions in [-2, 2]
    with pytest.raises(DiffilError, match="bounded_mean"):
        make_ppo(PPOConfig(bounded_mean=True, **SMALL), venv, seed=0)

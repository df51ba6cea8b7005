"""Behaviour cloning of a Stable-Baselines3 actor-critic policy.

Two users: the BC method (:mod:`diffil.algorithms.bc`), and the BC warm start of PPO's actor
before reward learning begins (``bc_warm_start``, :class:`diffil.algorithms.trainer.OnlineTrainer`).
"""

from __future__ import annotations

import numpy as np
import torch
from stable_baselines3.common.policies import ActorCriticPolicy


def actor_parameters(policy: ActorCriticPolicy) -> list[torch.nn.Parameter]:
    """The layers that make the Gaussian's mean (not the critic's, not the log-std)."""
    return [*policy.mlp_extractor.policy_net.parameters(), *policy.action_net.parameters()]


def negative_log_likelihood(
    policy: ActorCriticPolicy, obs: np.ndarray, acts: np.ndarray
) -> torch.Tensor:
    """Mean -log pi(a|s) of expert actions ``acts`` at (already normalised) ``obs``."""
    device = policy.device
    _, log_prob, _ = policy.evaluate_actions(
        torch.as_tensor(obs, dtype=torch.float32, device=device),
        torch.as_tensor(acts, dtype=torch.float32, device=device),
    )
    return -log_prob.mean()


def warm_start_actor(
    policy: ActorCriticPolicy,
    obs: np.ndarray,
    acts: np.ndarray,
    *,
    steps: int,
    batch_size: int,
    learning_rate: float,
    rng: np.random.Generator,
) -> float:
    """Fit the policy's mean to the demonstrations; returns its squared error on a fresh batch.

    The log-std is left as it is (PPO's exploration setting), so with it fixed the likelihood's
    gradient is that of the squared error between the mean and the expert action.
    """
    optimizer = torch.optim.Adam(actor_parameters(policy), lr=learning_rate)
    for _ in range(steps):
        idx = rng.integers(0, len(obs), batch_size)
        loss = negative_log_likelihood(policy, obs[idx], acts[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        idx = rng.integers(0, len(obs), batch_size)
        mean = policy.get_distribution(
            torch.as_tensor(obs[idx], dtype=torch.float32, device=policy.device)
        ).distribution.mean
        target = torch.as_tensor(acts[idx], dtype=torch.float32, device=policy.device)
        return float(((mean - target) ** 2).mean())

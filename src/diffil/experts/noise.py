"""Gaussian action noise on any policy, in normalised action units (noisy demonstrations).

The standard deviation is a fraction of half the action range, so ``sigma = 0.5`` on a maze
(actions in [-1, 1]) is the paper's N(0, 0.5^2) on every action (reference 000, 5.4). Noisy
actions are clipped to the action bounds; they are what the environment executes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from diffil.errors import DiffilError

Policy = Callable[[np.ndarray], np.ndarray]


def check_action_noise(sigma: float) -> float:
    """``sigma`` as a float, or a one-line error if it is negative."""
    sigma = float(sigma)
    if not sigma >= 0:
        raise DiffilError(f"action noise must be >= 0, got {sigma}", "pass e.g. --action-noise 0.5")
    return sigma


def add_action_noise(
    action: np.ndarray,
    sigma: float,
    low: np.ndarray,
    high: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """``action`` plus N(0, (sigma * (high - low) / 2)^2) noise per dimension, clipped to bounds."""
    action = np.asarray(action, dtype=np.float32)
    if sigma <= 0:
        return action
    scale = sigma * (high - low) / 2
    noisy = action + rng.normal(size=action.shape) * scale
    return np.clip(noisy, low, high).astype(np.float32)


class NoisyPolicy:
    """``policy`` with Gaussian noise on every action (see :func:`add_action_noise`).

    Keeps the wrapped policy's ``name``, ``provenance`` and ``reset()``; the noise comes from
    its own generator seeded with ``seed``, so noisy collection is reproducible.
    """

    def __init__(
        self, policy: Policy, sigma: float, low: np.ndarray, high: np.ndarray, seed: int = 0
    ):
        self.policy = policy
        self.sigma = check_action_noise(sigma)
        self.low = np.asarray(low, dtype=np.float32)
        self.high = np.asarray(high, dtype=np.float32)
        self.rng = np.random.default_rng([seed, 1])  # independent of the expert's own stream
        self.name = getattr(policy, "name", type(policy).__name__)

    @property
    def provenance(self) -> dict[str, Any] | None:
        return getattr(self.policy, "provenance", None)

    def reset(self) -> None:
        reset = getattr(self.policy, "reset", None)
        if callable(reset):
            reset()

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        return add_action_noise(
            self.policy(observations), self.sigma, self.low, self.high, self.rng
        )

"""What the scripted experts share: a per-observation ``act``, called on one observation or a
batch."""

from __future__ import annotations

import numpy as np


class ScriptedExpert:
    """A policy defined by ``act(observation) -> action`` on one flat observation; calling it on
    a batch (N, obs_dim) acts on each row, on a single observation gives a single action."""

    name: str  # recorded in the provenance of the demonstrations it makes

    rng: np.random.Generator

    def act(self, observation: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _noisy_and_clipped(self, action: np.ndarray, sigma: float) -> np.ndarray:
        """``action`` plus N(0, sigma^2) per dimension (when sigma > 0), clipped to [-1, 1]."""
        if sigma > 0:
            action = action + self.rng.normal(0.0, sigma, size=np.shape(action))
        return np.clip(action, -1.0, 1.0).astype(np.float32)

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        observations = np.asarray(observations)
        if observations.ndim == 1:
            return self.act(observations)
        return np.stack([self.act(o) for o in observations])

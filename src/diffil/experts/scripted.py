"""What the scripted experts share: a per-observation ``act``, called on one observation or a
batch."""

from __future__ import annotations

import numpy as np


class ScriptedExpert:
    """A policy defined by ``act(observation) -> action`` on one flat observation; calling it on
    a batch (N, obs_dim) acts on each row, on a single observation gives a single action."""

    name: str  # recorded in the provenance of the demonstrations it makes

    def act(self, observation: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        observations = np.asarray(observations)
        if observations.ndim == 1:
            return self.act(observations)
        return np.stack([self.act(o) for o in observations])

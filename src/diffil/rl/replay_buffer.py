"""Stable-Baselines3's replay buffer, kept and saved compactly.

SB3 allocates the whole buffer up front in the observation space's dtype and pickles all of it.
MuJoCo observations are float64, so a 1M-step buffer of a 17-dimensional task is about 300 MB on
disk at every checkpoint, however few steps it holds. :class:`CompactReplayBuffer` stores float64
observations as float32 (what the networks read anyway) and pickles only the rows filled so
far; loading re-allocates the rest. Buffers pickled by SB3's own class load unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer

# the per-step arrays, each (buffer_size, n_envs, ...); next_observations is absent when
# SB3's optimize_memory_usage is on
_ROW_ARRAYS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


def float32_observations(space: spaces.Space) -> spaces.Space:
    """``space`` with float64 boxes narrowed to float32 (other spaces are returned as they are)."""
    if isinstance(space, spaces.Box) and space.dtype == np.float64:
        return spaces.Box(
            low=space.low.astype(np.float32),
            high=space.high.astype(np.float32),
            shape=space.shape,
            dtype=np.float32,
        )
    return space


class CompactReplayBuffer(ReplayBuffer):
    """A :class:`ReplayBuffer` with float32 observations that pickles only its filled rows."""

    def __init__(
        self,
        buffer_size: int,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            buffer_size, float32_observations(observation_space), action_space, *args, **kwargs
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if not self.full:  # the rows past pos are still zeros: leave them out
            for name in _ROW_ARRAYS:
                if state.get(name) is not None:
                    state[name] = state[name][: self.pos]
            state["_saved_rows"] = self.pos
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        rows = state.pop("_saved_rows", None)
        self.__dict__.update(state)
        if rows is None:  # saved in full
            return
        for name in _ROW_ARRAYS:
            saved = getattr(self, name, None)
            if saved is None:
                continue
            full = np.zeros((self.buffer_size, *saved.shape[1:]), dtype=saved.dtype)
            full[:rows] = saved
            setattr(self, name, full)

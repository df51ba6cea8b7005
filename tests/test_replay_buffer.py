"""CompactReplayBuffer: float32 observations, checkpoints that hold only the filled rows."""

from __future__ import annotations

import pickle

import numpy as np
from gymnasium import spaces

from diffil.rl.replay_buffer import CompactReplayBuffer

OBS = spaces.Box(-np.inf, np.inf, shape=(17,), dtype=np.float64)  # MuJoCo's observation dtype
ACT = spaces.Box(-1.0, 1.0, shape=(6,), dtype=np.float32)


def filled(steps: int, capacity: int = 1000) -> CompactReplayBuffer:
    buffer = CompactReplayBuffer(capacity, OBS, ACT, device="cpu")
    rng = np.random.default_rng(0)
    for i in range(steps):
        buffer.add(
            rng.normal(size=(1, 17)),
            rng.normal(size=(1, 17)),
            rng.uniform(-1, 1, size=(1, 6)),
            np.array([float(i)]),
            np.array([i % 7 == 0]),
            [{"TimeLimit.truncated": i % 11 == 0}],
        )
    return buffer


def test_float64_observations_are_stored_as_float32():
    buffer = filled(5)
    assert buffer.observations.dtype == np.float32
    assert buffer.next_observations.dtype == np.float32
    assert buffer.observation_space.dtype == np.float32


def test_a_partly_filled_buffer_pickles_only_its_rows_and_loads_back_whole():
    buffer = filled(100)
    data = pickle.dumps(buffer)
    assert len(data) < 0.2 * len(pickle.dumps(buffer.__dict__))  # 100 of 1000 rows
    loaded = pickle.loads(data)
    assert (loaded.pos, loaded.full, loaded.buffer_size) == (100, False, 1000)
    for name in ("observations", "next_observations", "actions", "rewards", "dones", "timeouts"):
        original, restored = getattr(buffer, name), getattr(loaded, name)
        assert restored.shape == original.shape and restored.dtype == original.dtype
        np.testing.assert_array_equal(restored, original)
    # the loaded buffer keeps filling where it stopped
    loaded.add(
        np.ones((1, 17)),
        np.ones((1, 17)),
        np.zeros((1, 6)),
        np.array([5.0]),
        np.array([False]),
        [{}],
    )
    assert loaded.pos == 101 and loaded.rewards[100, 0] == 5.0


def test_a_full_buffer_and_a_buffer_saved_in_full_load_unchanged():
    buffer = filled(60, capacity=50)  # wrapped around: every row holds data
    loaded = pickle.loads(pickle.dumps(buffer))
    assert loaded.full and loaded.pos == 10
    np.testing.assert_array_equal(loaded.observations, buffer.observations)
    # a checkpoint written before rows were trimmed (no row count): taken as it is
    legacy = CompactReplayBuffer.__new__(CompactReplayBuffer)
    legacy.__setstate__(dict(filled(20).__dict__))
    assert legacy.pos == 20 and legacy.observations.shape == (1000, 1, 17)

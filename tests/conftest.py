"""Shared fixtures: small demonstration sets made once per test session."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("MUJOCO_GL", "egl")
# The networks in the tests are small: one thread is fastest and does not oversubscribe the
# two CI cores (intra-op threads spin while other processes hold the cores).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def umaze_demos():
    from diffil.experts.collect import collect_demonstrations

    return collect_demonstrations("pointmaze-umaze", episodes=6, seed=3)


@pytest.fixture()
def umaze_copy(umaze_demos):
    import copy

    return copy.deepcopy(umaze_demos)

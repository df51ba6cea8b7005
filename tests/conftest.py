"""Shared fixtures: small demonstration sets made once per test session, and ``diffil``
commands started as processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

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


@pytest.fixture()
def diffil_process():
    """Start ``python -m diffil.cli ARGS`` in a session of its own (one thread, stdout and stderr
    in one pipe); a command still running when the test ends is killed with its workers."""
    started: list[subprocess.Popen] = []

    def start(args: list[str]) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "diffil.cli", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "OMP_NUM_THREADS": "1"},
            start_new_session=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)

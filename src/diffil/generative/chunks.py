"""Training pairs for action-chunk policies: (last H_o observations, next H_a actions)."""

from __future__ import annotations

import numpy as np

from diffil.data.trajectory import TrajectoryDataset


def action_chunks(
    dataset: TrajectoryDataset, obs_horizon: int, action_horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """One pair per time step t of every trajectory (reference 002, action chunking).

    Observation history o_{t-H_o+1..t}, padded at the episode start with o_0; action chunk
    a_{t..t+H_a-1}, padded past the episode end with the last action. Returns float32 arrays
    of shapes (N, H_o, obs_dim) and (N, H_a, act_dim).
    """
    obs_out, act_out = [], []
    for traj in dataset:
        steps = len(traj.actions)
        if steps == 0:
            continue
        t = np.arange(steps)
        obs_idx = np.clip(t[:, None] + np.arange(-obs_horizon + 1, 1)[None, :], 0, None)
        act_idx = np.clip(t[:, None] + np.arange(action_horizon)[None, :], None, steps - 1)
        obs_out.append(np.asarray(traj.observations, dtype=np.float32)[obs_idx])
        act_out.append(np.asarray(traj.actions, dtype=np.float32)[act_idx])
    return np.concatenate(obs_out), np.concatenate(act_out)

"""Scaling relabelled rewards by the running std of their discounted return."""

from __future__ import annotations

import json

import numpy as np
import pytest

from diffil.algorithms.run import train
from diffil.rl.return_scaling import ReturnScaler


def rollout(seed: int, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    rewards = (rng.normal(-2.0, 1.0, size=(64, 4)) * scale).astype(np.float32)
    ends = rng.random((64, 4)) < 0.05
    return rewards, ends


def test_scaled_rewards_do_not_depend_on_the_reward_scale() -> None:
    small, large = ReturnScaler(4, 0.99), ReturnScaler(4, 0.99)
    for seed in range(3):
        r, ends = rollout(seed)
        out_small = small(r, ends)
        out_large = large(r * 1000.0, ends)
        np.testing.assert_allclose(out_small, out_large, rtol=1e-4)
    # returns of a -2 reward reach ~-2 / (1 - 0.99) over long episodes: the scale shrinks them
    assert np.abs(out_small).mean() < np.abs(r).mean() / 3


def test_returns_restart_where_episodes_end() -> None:
    scaler = ReturnScaler(2, 0.5)
    scaler(np.ones((3, 2), dtype=np.float32), np.array([[0, 1], [0, 1], [0, 0]]))
    # env 0 ran 3 steps (1 + 0.5 + 0.25); env 1 restarted after steps 0 and 1, then ran 1 step
    np.testing.assert_allclose(scaler.returns, [1.75, 1.0])


def test_absorbing_tail_is_scaled_per_step_not_clipped() -> None:
    """The tail gamma r_a / (1 - gamma) stands for many steps: each is scaled and clipped like
    a reward, so a tail worth far more than the clip survives."""
    scaler, plain = ReturnScaler(4, 0.99), ReturnScaler(4, 0.99)
    for seed in range(3):  # statistics from rollouts without terminations
        r, ends = rollout(seed)
        scaler(r, ends)
        plain(r, ends)
    rewards, ends = rollout(3)
    terminated = np.zeros_like(ends)
    terminated[10, 0] = ends[10, 0] = True  # one true termination
    out = scaler(rewards, ends, terminated, absorbing_reward=20.0)
    scale = np.sqrt(scaler.stats.var + scaler.epsilon)
    tail = 0.99 * np.clip(20.0 / scale, -10, 10) / (1 - 0.99)
    assert tail > 10  # the old order (add the tail, then clip) would have cut it to 10
    expected = np.clip(rewards / scale, -10, 10) + terminated * tail
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    plain(rewards, ends)  # the tail counts in the returns the scale is measured on
    assert scaler.stats.var > plain.stats.var


def test_state_round_trip() -> None:
    scaler = ReturnScaler(4, 0.99)
    scaler(*rollout(0))
    copy = ReturnScaler(4, 0.99)
    copy.restore(json.loads(json.dumps(scaler.state())))
    r, ends = rollout(1)
    np.testing.assert_array_equal(copy(r, ends), scaler(r, ends))


def test_drail_run_with_scaled_rewards_resumes_with_its_scaler(tmp_path) -> None:
    overrides = {
        "n_envs": 2,
        "num_demos": 10,
        "checkpoint_every": 256,
        "ppo": {"n_steps": 64, "batch_size": 64, "n_epochs": 1, "net_arch": [16],
                "normalize_reward": True},
        "reward": {"updates_per_rollout": 1, "batch_size": 32, "model": {"hidden": [16]}},
        "eval": {"every": 10**6, "episodes": 1, "final_episodes": 1},
    }  # fmt: skip
    out = tmp_path / "run"
    train("drail", "pointmaze-umaze", steps=256, out=out, overrides=overrides, progress=False)
    state = json.loads((out / "checkpoints" / "latest" / "state.json").read_text())
    saved = state["return_scaler"]
    assert saved["count"] > 1 and saved["var"] > 0
    result = train(resume=out, steps=512, progress=False)
    assert result.env_steps == 512
    state = json.loads((out / "checkpoints" / "latest" / "state.json").read_text())
    # one return per env per step: the resumed run went on from the saved statistics
    assert state["return_scaler"]["count"] == pytest.approx(saved["count"] + 256)

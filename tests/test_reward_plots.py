"""Reward pictures: the DRAIL sine toy and maze reward heatmaps."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
import yaml

from diffil.algorithms.reward_map import plot_maze_reward
from diffil.errors import DiffilError
from diffil.eval.reward_plots import reward_surface
from diffil.rewards import make_reward_model
from diffil.toys import run_sine_toy

TINY_RUN = {
    "n_envs": 2,
    "num_demos": 5,
    "ppo": {"n_steps": 64, "batch_size": 64, "n_epochs": 1, "net_arch": [16, 16]},
    "reward": {"updates_per_rollout": 2, "batch_size": 64, "model": {"hidden": [32, 32]}},
    "eval": {"every": 10**9, "episodes": 1, "final_episodes": 1},
}


@pytest.fixture(scope="module")
def sine_result(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("sine")
    return out, run_sine_toy(out, updates=800, seed=0, grid=(51, 31), draws=16)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from diffil.algorithms.run import train

    out = tmp_path_factory.mktemp("maze") / "run"
    result = train(
        "gail", "pointmaze-umaze", steps=256, out=out, overrides=TINY_RUN, progress=False
    )
    return Path(result.run_dir)


def test_sine_toy_writes_png_and_json(sine_result: tuple[Path, dict]) -> None:
    out, result = sine_result
    png = out / "sine_rewards.png"
    assert png.is_file() and png.stat().st_size > 10_000
    height, width = mpimg.imread(png).shape[:2]
    assert width > height > 200
    saved = json.loads((out / "sine_rewards.json").read_text())
    assert saved == json.loads(json.dumps(result))
    assert saved["settings"]["updates"] == 800
    for name in ("gail", "drail"):
        for key in ("max_slope_curve", "max_slope_grid", "reward_range", "max_slope_curve_rel"):
            assert math.isfinite(saved[name][key]), (name, key)


def test_drail_reward_is_smoother_than_gails(sine_result: tuple[Path, dict]) -> None:
    """DRAIL's claim on its sine toy: its reward changes far less steeply than GAIL's.

    Measured at 800 updates, seeds 0-4, DRAIL/GAIL ratios of the largest slope: along the curve
    0.07-0.15, over the grid 0.10-0.18, along the curve over each reward's range 0.22-0.38.
    """
    gail, drail = sine_result[1]["gail"], sine_result[1]["drail"]
    assert drail["max_slope_curve"] < 0.5 * gail["max_slope_curve"]
    assert drail["max_slope_grid"] < 0.5 * gail["max_slope_grid"]
    assert drail["max_slope_curve_rel"] < 0.7 * gail["max_slope_curve_rel"]


@pytest.mark.parametrize("name", ["gail", "drail"])
def test_sine_toy_rewards_rank_expert_curve_first(
    sine_result: tuple[Path, dict], name: str
) -> None:
    res = sine_result[1][name]
    # on covered intervals: r(s, sin(...)) beats r(s, sin(...) -+ 1.0) on average
    assert res["mean_on_curve_covered"] > res["mean_off_curve_covered"] + 0.2
    assert res["test_expert_acc"] > 0.6


def test_reward_surface_shares_noise_along_rows() -> None:
    model = make_reward_model("drail", 1, 1, {"hidden": [16, 16], "num_diffusion_steps": 50})
    acts = np.linspace(-1, 1, 7)[None, :, None].repeat(3, axis=0)
    obs = np.zeros_like(acts)
    r = reward_surface(model, None, obs, acts, draws=4, seed=3)
    assert r.shape == (3, 7)
    np.testing.assert_allclose(r[0], r[1])  # same inputs, same draws
    np.testing.assert_allclose(r, reward_surface(model, None, obs, acts, draws=4, seed=3))
    assert not np.allclose(r, reward_surface(model, None, obs, acts, draws=4, seed=4))
    scaled = reward_surface(model, {"mean": [1.0], "std": [2.0]}, obs + 1.0, acts, 4, seed=3)
    np.testing.assert_allclose(scaled, r, atol=1e-6)
    flat = reward_surface(model, None, obs[0], acts[0], draws=4, seed=3)
    assert flat.shape == (7,)
    np.testing.assert_allclose(flat, r[0])


def test_maze_reward_heatmap(tiny_run: Path, tmp_path: Path) -> None:
    out = plot_maze_reward(tiny_run, tmp_path / "maze" / "reward.png", resolution=30)
    assert out == tmp_path / "maze" / "reward.png"
    assert 10_000 < out.stat().st_size < 2_000_000
    height, width = mpimg.imread(out).shape[:2]
    assert 300 < width < 2000 and 300 < height < 2000
    other = plot_maze_reward(tiny_run, tmp_path / "goal.png", goal=(1.0, -1.0), resolution=20)
    assert other.stat().st_size > 10_000


def test_maze_reward_heatmap_rejects_bad_runs(tiny_run: Path, tmp_path: Path) -> None:
    with pytest.raises(DiffilError, match="not a diffil run"):
        plot_maze_reward(tmp_path / "missing", tmp_path / "a.png")
    with pytest.raises(DiffilError, match="not a diffil run"):
        plot_maze_reward(tmp_path, tmp_path / "a.png")

    no_reward = tmp_path / "bc"
    shutil.copytree(tiny_run, no_reward)
    config = yaml.safe_load((no_reward / "config.yaml").read_text())
    (no_reward / "config.yaml").write_text(yaml.safe_dump({**config, "method": "bc"}))
    with pytest.raises(DiffilError, match="learns no reward"):
        plot_maze_reward(no_reward, tmp_path / "b.png")

    no_ckpt = tmp_path / "no_ckpt"
    shutil.copytree(tiny_run, no_ckpt)
    (no_ckpt / "checkpoints" / "latest" / "reward_model.pt").unlink()
    with pytest.raises(DiffilError, match="no reward-model checkpoint"):
        plot_maze_reward(no_ckpt, tmp_path / "c.png")
    assert not list(tmp_path.glob("*.png"))


def test_maze_reward_drawing_needs_no_run(tmp_path: Path) -> None:
    """draw_maze_reward pictures any reward: here the maze's own sparse reward, which is 1 only
    within 0.45 of the goal, so the picture's values are 0 and 1 only."""
    from diffil.envs.registry import get_task
    from diffil.eval.reward_metrics import task_reward
    from diffil.eval.reward_plots import draw_maze_reward

    task, truth, seen = get_task("pointmaze-umaze"), task_reward("pointmaze-umaze"), []

    def sparse(obs: np.ndarray, acts: np.ndarray) -> np.ndarray:
        flat = obs.reshape(-1, obs.shape[-1])
        seen.append(truth(flat, acts.reshape(len(flat), -1), flat))
        return seen[-1].reshape(obs.shape[:-1])

    def still(obs: np.ndarray) -> np.ndarray:
        return np.zeros((len(obs), 2))

    out = draw_maze_reward(sparse, still, task, (1.0, 1.0), tmp_path / "true.png", "true")
    assert out.stat().st_size > 10_000
    assert set(np.unique(seen[0])) == {0.0, 1.0}
    with pytest.raises(DiffilError, match="not a maze"):
        draw_maze_reward(sparse, still, get_task("hopper"), (0, 0), tmp_path / "h.png")
    with pytest.raises(ValueError, match="goal must be"):
        draw_maze_reward(sparse, still, task, (0, 0, 0), tmp_path / "g.png")

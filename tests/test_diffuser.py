"""Diffuser planning (reference 004): inpainting, reward guidance, differentiable sampling,
exploration data and re-planning rollouts. Everything is tiny: a few seconds per test."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from diffil.data.collect import rollout
from diffil.envs.maze import MazeLayout
from diffil.envs.registry import get_task
from diffil.experts.collect import collect_exploration
from diffil.planning import (
    Diffuser,
    DiffuserConfig,
    DiffuserPlanner,
    make_diffuser,
    maze_goal_state,
    train_diffuser,
)

torch.set_num_threads(1)

OBS, ACT, H = 6, 2, 8


def tiny_diffuser(horizon: int = H, steps: int = 10, **kw) -> Diffuser:
    torch.manual_seed(0)
    config = DiffuserConfig(horizon=horizon, num_steps=steps, channels=(16, 32), **kw)
    diffuser = Diffuser(OBS, ACT, config).eval()
    # a normaliser with non-trivial ranges, so unnormalisation matters
    plans = torch.randn(64, horizon, OBS + ACT) * torch.linspace(0.5, 3.0, OBS + ACT) + 1.0
    diffuser.fit_normalizer(plans)
    return diffuser


def x_return(plans: torch.Tensor) -> torch.Tensor:
    """Toy return: the sum of the x-coordinates over the plan."""
    return plans[..., 0].sum(dim=1)


class RewardNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(OBS + ACT, 16), nn.Tanh(), nn.Linear(16, 1))

    def forward(self, plans: torch.Tensor) -> torch.Tensor:
        return self.net(plans).squeeze(-1).sum(dim=1)


def test_inpainted_start_and_goal_are_exact() -> None:
    diffuser = tiny_diffuser()
    start = torch.randn(4, OBS) * 2
    goal = torch.randn(4, OBS)
    plans = diffuser.sample(start, goal, generator=0)
    assert plans.shape == (4, H, OBS + ACT)
    assert torch.equal(plans[:, 0, :OBS], start)
    assert torch.equal(plans[:, -1, :OBS], goal)
    guided = diffuser.sample(start, guide=x_return, scale=5.0, generator=0)
    assert torch.equal(guided[:, 0, :OBS], start)


def test_guidance_raises_the_return() -> None:
    diffuser = tiny_diffuser()
    start = torch.zeros(8, OBS)
    noise = torch.randn(8, H, OBS + ACT, generator=torch.Generator().manual_seed(1))
    plain = diffuser.sample(start, noise=noise, generator=2)
    guided = diffuser.sample(start, noise=noise, generator=2, guide=x_return, scale=1.0)
    assert (x_return(guided) > x_return(plain)).all()
    assert x_return(guided).mean() > x_return(plain).mean() + 1.0


def test_gradients_reach_the_reward_network() -> None:
    diffuser = tiny_diffuser().requires_grad_(False)
    reward = RewardNet()
    start = torch.randn(3, OBS)
    target = torch.zeros(3, H, OBS + ACT)
    for k in (None, 1):
        reward.zero_grad()
        noise = torch.randn(3, H, OBS + ACT, requires_grad=True)
        plans = diffuser.sample(
            start, guide=reward, scale=1.0, noise=noise, differentiable=True, grad_last_k=k
        )
        loss = (plans - target).pow(2).mean()
        loss.backward()
        # guidance uses grad_tau R, which the output bias does not affect: the weights get grads
        grads = [reward.net[0].weight.grad, reward.net[0].bias.grad, reward.net[2].weight.grad]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert all(float(g.abs().sum()) > 0 for g in grads)
        # the full chain reaches tau^T; with k = 1 the earlier steps kept no graph
        assert (noise.grad is not None) == (k is None)
    # without differentiable=True nothing is kept
    plans = diffuser.sample(start, guide=reward, scale=1.0, generator=0)
    assert not plans.requires_grad


def test_explore_data_covers_the_maze_without_resets() -> None:
    data = collect_exploration("pointmaze-umaze", 5000, seed=0)
    assert len(data) == 1 and data.num_transitions == 5000
    traj = data[0]
    assert not traj.terminations.any() and traj.truncations.sum() == 1
    # no resets: consecutive positions are a small step apart
    assert np.abs(np.diff(traj.observations[:, :2], axis=0)).max() < 0.2
    env = get_task("pointmaze-umaze").make_env()
    layout = MazeLayout.from_env(env)
    env.close()
    visited = {layout.xy_to_cell(p) for p in traj.observations[:, :2]}
    free = set(layout.free_cells)
    assert len(visited & free) >= 0.8 * len(free)
    assert data.metadata["mode"] == "explore" and data.metadata["explore"]["resets"] == 1
    assert data.metadata["task"] == "pointmaze-umaze"
    pieces = collect_exploration("pointmaze-umaze", 300, seed=0, segment_length=100)
    assert [len(t) for t in pieces] == [100, 100, 100]
    assert np.array_equal(pieces[0].observations[-1], pieces[1].observations[0])
    assert all(t.truncations[-1] and t.truncations.sum() == 1 for t in pieces)


def test_trained_planner_rolls_out_on_umaze() -> None:
    data = collect_exploration("pointmaze-umaze", 600, seed=1)
    diffuser = make_diffuser(data, horizon=H, num_steps=5, channels=(16, 32))
    losses = train_diffuser(diffuser, data, steps=30, batch_size=32, stride=4)
    assert len(losses) == 30 and np.isfinite(losses).all()
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 0.01  # 0.03-0.05 lower, seeds 0-3
    planner = DiffuserPlanner(diffuser, num_samples=2, guide=x_return, goal=maze_goal_state)
    task = get_task("pointmaze-umaze")
    obs = data[0].observations[0]
    action = planner(obs)
    assert action.shape == (ACT,) and action.dtype == np.float32
    assert np.all(np.abs(action) <= 1.0)
    assert planner(np.stack([obs, obs])).shape == (2, ACT)
    short = dataclasses.replace(task, max_episode_steps=15)  # a short episode keeps it quick
    planner = DiffuserPlanner(diffuser, replan_every=2)
    [traj] = rollout(short, planner, episodes=1, seed=0)
    assert traj.actions.shape == (len(traj), ACT) and 1 <= len(traj) <= 15
    assert np.isfinite(traj.actions).all() and np.all(np.abs(traj.actions) <= 1.0)


@pytest.mark.parametrize("bad", [0, -1])
def test_grad_last_k_must_be_positive(bad: int) -> None:
    with pytest.raises(ValueError):
        tiny_diffuser().sample(torch.zeros(1, OBS), differentiable=True, grad_last_k=bad)


def test_cli_collect_explore(tmp_path) -> None:
    from diffil.cli import main
    from diffil.data import load_dataset

    out = tmp_path / "explore.npz"
    args = ["collect", "--task", "pointmaze-umaze", "--mode", "explore", "--steps", "200"]
    assert main([*args, "--out", str(out)]) == 0
    data = load_dataset(out)
    assert data.num_transitions == 200 and len(data) == 1
    assert data.metadata["mode"] == "explore"
    # explore mode takes --steps, expert mode --episodes
    assert main([*args, "--episodes", "2", "--out", str(tmp_path / "x.npz")]) == 2
    bad = ["collect", "--task", "pointmaze-umaze", "--out", str(tmp_path / "y.npz")]
    assert main(bad) == 2


def test_start_conditioned_plans_hold_the_start_they_are_given(tmp_path) -> None:
    """``condition_on_start``: the network also sees the start state (not only its inpainted
    copy). Trained on windows that stay at their start level (+-1), sampled plans stay at the
    start given, and the setting survives save/load."""
    torch.manual_seed(0)
    obs, act = 2, 1
    levels = torch.tensor([-1.0, 1.0]).repeat_interleave(32)
    plans = torch.zeros(len(levels), H, obs + act)
    plans[..., :obs] = levels[:, None, None] + 0.05 * torch.randn(len(levels), H, obs)
    plans[..., obs:] = torch.randn(len(levels), H, act)
    config = DiffuserConfig(horizon=H, num_steps=20, channels=(32,), condition_on_start=True)
    diffuser = Diffuser(obs, act, config)
    train_diffuser(diffuser, plans, steps=300, batch_size=64, lr=2e-3, seed=0)
    diffuser.save(tmp_path / "d.pt")
    loaded = Diffuser.load(tmp_path / "d.pt")
    assert loaded.config.condition_on_start and loaded.model.cond_dim == obs
    start = plans[:, 0, :obs]
    sampled = loaded.sample(start, generator=0)
    gap = (sampled[:, 1:, :obs] - start[:, None]).abs()
    assert gap.median() < 0.15, f"plans left their start: median gap {gap.median():.2f}"

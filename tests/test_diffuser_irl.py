"""Diffuser-IRL (reference 004, Algorithm 4): MMD kernels, learning a guide on a toy, and the
learned reward as a RewardFunction. Everything is tiny: a few seconds per test."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from diffil.data.trajectory import Trajectory, TrajectoryDataset
from diffil.eval.reward_metrics import erc, pearson_distance
from diffil.planning import (
    Diffuser,
    DiffuserConfig,
    DiffuserIRLConfig,
    PlanReward,
    expert_windows,
    irl_step,
    mmd2,
    train_diffuser_irl,
)
from diffil.planning.irl import median_bandwidth

torch.set_num_threads(1)

OBS, ACT, H, K = 2, 2, 8, 4


def tiny_diffuser() -> Diffuser:
    torch.manual_seed(0)
    config = DiffuserConfig(horizon=H, num_steps=5, channels=(8, 16))
    diffuser = Diffuser(OBS, ACT, config).eval()
    plans = torch.randn(64, H, OBS + ACT)
    diffuser.fit_normalizer(plans)
    return diffuser.requires_grad_(False)


def true_return(plans: torch.Tensor) -> torch.Tensor:
    """R*: the sum of x + y over the plan."""
    return plans[..., :2].sum(dim=(1, 2))


@pytest.mark.parametrize("kernel", ["gauss", "matern"])
def test_mmd_is_zero_for_equal_samples_and_grows_with_a_shift(kernel: str) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 3, 2, generator=gen)
    y = torch.randn(200, 3, 2, generator=gen)
    assert abs(float(mmd2(x, x, kernel, 1.0, unbiased=False))) < 1e-6
    same = float(mmd2(x, y, kernel, 2.0))
    assert abs(same) < 0.02
    shifted = [float(mmd2(x, y + shift, kernel, 2.0)) for shift in (0.5, 1.0, 2.0)]
    assert same < shifted[0] < shifted[1] < shifted[2]
    # gradients stay finite at zero distance (the Matern kernel's sqrt)
    z = x.clone().requires_grad_(True)
    mmd2(z, z.detach(), kernel, 1.0).backward()
    assert z.grad is not None and torch.isfinite(z.grad).all()


def test_irl_learns_a_guide_that_imitates_guided_plans() -> None:
    diffuser = tiny_diffuser()
    gen = torch.Generator().manual_seed(1)
    starts = torch.randn(32, OBS, generator=gen)
    experts = diffuser.sample(starts, guide=true_return, scale=2.0, generator=2)[:, :K]
    config = DiffuserIRLConfig(
        K=K, loss="mse", epochs=12, batch_size=16, hidden=(32, 32), scale=2.0, lr=1e-2,
        grad_last_k=1,
    )  # fmt: skip

    def held_out_loss(reward: PlanReward) -> float:
        with torch.no_grad():
            gen_eval = torch.Generator().manual_seed(5)
            return float(irl_step(diffuser, reward, experts, config, gen_eval))

    reward = PlanReward.for_diffuser(diffuser, config)
    before = held_out_loss(reward)
    # one step by hand: with grad_last_k = 1 the loss still reaches phi (and only phi)
    loss = irl_step(diffuser, reward, experts[:8], config, torch.Generator().manual_seed(0))
    loss.backward()
    # guidance uses grad_tau R: with ReLU it depends on the weights, not on the biases
    weights = [p.grad for p in reward.parameters() if p.ndim == 2]
    assert all(g is not None and torch.isfinite(g).all() for g in weights)
    assert all(float(g.abs().sum()) > 0 for g in weights)
    assert all(p.grad is None for p in diffuser.parameters())
    reward.zero_grad(set_to_none=True)

    result = train_diffuser_irl(diffuser, experts, config, reward=reward, progress=False)
    assert len(result.losses) == 12 and np.isfinite(result.losses).all()
    assert np.mean(result.losses[-3:]) < result.losses[0]
    assert held_out_loss(result.reward) < before
    # the learned per-step reward ranks plans like R*: larger for larger x + y
    rows = torch.tensor([[-1.0, -1.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    low, high = result.reward.step_reward(rows).tolist()
    assert high > low


@pytest.mark.parametrize("loss", ["mmd_gauss", "mmd_matern"])
def test_mmd_losses_train(loss: str) -> None:
    diffuser = tiny_diffuser()
    experts = diffuser.sample(torch.randn(16, OBS), guide=true_return, scale=2.0, generator=0)
    config = DiffuserIRLConfig(K=K, loss=loss, epochs=2, batch_size=8, hidden=(16,), scale=2.0)
    result = train_diffuser_irl(diffuser, experts[:, :K], config, progress=False)
    median = median_bandwidth(diffuser.normalize(experts[:, :K]))  # the default: median heuristic
    assert result.bandwidth == pytest.approx(median) and median > 0.1
    assert len(result.losses) == 2 and np.isfinite(result.losses).all()
    option = "gauss_bandwidth" if loss == "mmd_gauss" else "matern_bandwidth"
    given = dataclasses.replace(config, **{option: 0.7}, epochs=1)
    assert train_diffuser_irl(diffuser, experts[:, :K], given, progress=False).bandwidth == 0.7


def test_learned_reward_function_shape_erc_and_save_load(tmp_path) -> None:
    diffuser = tiny_diffuser()
    rng = np.random.default_rng(0)
    trajs = [
        Trajectory(
            observations=rng.normal(size=(13, OBS)) + i * 0.1,
            actions=rng.uniform(-1, 1, size=(12, ACT)).astype(np.float32),
        )
        for i in range(6)
    ]
    data = TrajectoryDataset(trajs)
    windows = expert_windows(diffuser, data, K)
    assert windows.shape == (6 * 3, K, OBS + ACT)
    config = DiffuserIRLConfig(K=K, epochs=1, batch_size=8, hidden=(16, 16), grad_last_k=2)
    result = train_diffuser_irl(diffuser, data, config, progress=False)
    fn = result.reward.reward_function()
    out = fn(trajs[0].obs, trajs[0].actions, trajs[0].next_obs)
    assert out.shape == (12,) and out.dtype == np.float64
    np.testing.assert_array_equal(fn(trajs[0].obs, trajs[0].actions, 0 * trajs[0].next_obs), out)
    position = lambda o, a, n: o[:, 0] + o[:, 1]  # noqa: E731
    ours = [fn(t.obs, t.actions, t.next_obs).sum() for t in trajs]
    expected = pearson_distance(np.array(ours), np.array([t.obs[:, :2].sum() for t in trajs]))
    assert erc(fn, position, trajs) == pytest.approx(expected, abs=1e-9)
    path = tmp_path / "reward.pt"
    result.reward.save(path)
    loaded = PlanReward.load(path)
    again = loaded.reward_function()(trajs[0].obs, trajs[0].actions, trajs[0].next_obs)
    np.testing.assert_allclose(again, out, rtol=1e-6)
    plans = diffuser.sample(torch.zeros(2, OBS), generator=0)
    step = loaded.reward_function()  # the plan return is the discounted sum of r(s, a)
    per_step = np.stack([step(p[:, :OBS].numpy(), p[:, OBS:].numpy(), p[:, :OBS].numpy())
                         for p in plans])  # fmt: skip
    with torch.no_grad():
        plan_returns = loaded(plans).numpy()
    np.testing.assert_allclose(
        plan_returns, per_step @ (config.gamma ** np.arange(H)), rtol=1e-5, atol=1e-6
    )


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError):
        DiffuserIRLConfig(loss="l1")
    with pytest.raises(ValueError):
        DiffuserIRLConfig(K=0)
    diffuser = tiny_diffuser()
    with pytest.raises(ValueError):
        train_diffuser_irl(diffuser, torch.zeros(4, H + 1, OBS + ACT), DiffuserIRLConfig(K=H + 1))

"""Behavioural tests of the reward models (DRAIL, DiffAIL, GAIL, AIRL, WAIL)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
import torch

from diffil.rewards import (
    REWARD_TYPES,
    AirlRewardModel,
    DiffailRewardModel,
    DrailConfig,
    DrailRewardModel,
    GailConfig,
    RewardModel,
    TransitionBatch,
    WailConfig,
    WailRewardModel,
    gradient_penalty,
    make_reward_model,
    reward_from_d,
    reward_from_logits,
    reward_model_names,
)
from diffil.rewards.normalization import RunningMeanStd

OBS_DIM, ACT_DIM = 2, 2
NAMES = ["drail", "diffail", "gail", "airl", "wail"]
DIFFUSION = {"num_diffusion_steps": 100, "time_embed_dim": 16, "lr": 1e-3}
SMALL: dict[str, dict[str, Any]] = {
    "drail": {"hidden": (64, 64), **DIFFUSION},
    "diffail": {"hidden": (64, 64), **DIFFUSION},
    "gail": {"hidden": (32, 32), "lr": 1e-3},
    "airl": {"hidden": (32, 32), "lr": 1e-3},
    "wail": {"hidden": (32, 32), "lr": 1e-3},
}
STEPS = {"drail": 300, "diffail": 300, "gail": 100, "airl": 100, "wail": 100}


def gaussian_batch(n: int, mean: float, gen: torch.Generator) -> TransitionBatch:
    """(s, a) ~ N(mean, 0.3^2 I) in 4-D; s' is a noisy copy of s."""
    x = mean + 0.3 * torch.randn(n, OBS_DIM + ACT_DIM, generator=gen)
    obs, act = x[:, :OBS_DIM], x[:, OBS_DIM:]
    next_obs = obs + 0.05 * torch.randn(n, OBS_DIM, generator=gen)
    return TransitionBatch(obs, act, next_obs, torch.zeros(n))


def make(name: str, **overrides: Any) -> RewardModel:
    torch.manual_seed(0)
    return make_reward_model(name, OBS_DIM, ACT_DIM, {**SMALL[name], **overrides})


def train(model: RewardModel, steps: int, seed: int = 0, n: int = 128) -> dict[str, float]:
    gen = torch.Generator().manual_seed(seed)
    metrics: dict[str, float] = {}
    for _ in range(steps):
        metrics = model.update(gaussian_batch(n, 1.0, gen), gaussian_batch(n, -1.0, gen))
    return metrics


@pytest.fixture(scope="module")
def trained_drail() -> DrailRewardModel:
    model = make("drail")
    train(model, STEPS["drail"])
    assert isinstance(model, DrailRewardModel)
    return model


def held_out(n: int = 1000, seed: int = 123) -> tuple[TransitionBatch, TransitionBatch]:
    gen = torch.Generator().manual_seed(seed)
    return gaussian_batch(n, 1.0, gen), gaussian_batch(n, -1.0, gen)


# ---------------------------------------------------------------- batch and reward transforms


def test_transition_batch_validation_and_moves() -> None:
    b = TransitionBatch.from_numpy(np.zeros((3, 2)), np.ones((3, 1)), np.zeros((3, 2)))
    assert len(b) == 3 and b.obs.dtype == torch.float32 and b.done is None
    assert b.to("cpu", torch.float64).act.dtype == torch.float64  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="rows"):
        TransitionBatch(torch.zeros(3, 2), torch.zeros(4, 1))
    with pytest.raises(ValueError, match="2-D"):
        TransitionBatch(torch.zeros(3))
    with pytest.raises(ValueError, match="one value per row"):
        TransitionBatch(torch.zeros(3, 2), done=torch.zeros(3, 2))


@pytest.mark.parametrize("reward_type", REWARD_TYPES)
def test_reward_is_strictly_increasing_in_d(reward_type: str) -> None:
    d = torch.linspace(1e-4, 1 - 1e-4, 2001, dtype=torch.float64)
    r = reward_from_d(d, reward_type)
    assert bool((r[1:] > r[:-1]).all())
    logits = torch.linspace(-14, 14, 2001)
    r2 = reward_from_logits(logits, reward_type)
    assert bool((r2[1:] > r2[:-1]).all())
    assert torch.isfinite(reward_from_d(torch.tensor([0.0, 1.0]), reward_type)).all()


def test_reward_types_match_their_formulas() -> None:
    d = torch.tensor([0.1, 0.5, 0.8], dtype=torch.float64)
    torch.testing.assert_close(reward_from_d(d, "airl"), d.log() - (1 - d).log())
    torch.testing.assert_close(reward_from_d(d, "gail"), -(1 - d).log())
    torch.testing.assert_close(reward_from_d(d, "log_d"), d.log())
    with pytest.raises(ValueError, match="airl, gail, log_d"):
        reward_from_logits(torch.zeros(2), "nope")
    with pytest.raises(ValueError, match="reward_type"):
        DrailConfig(reward_type="nope")  # type: ignore[arg-type]


# ---------------------------------------------------------------- DRAIL


def test_drail_separates_two_gaussians(trained_drail: DrailRewardModel) -> None:
    expert, agent = held_out()
    gen = torch.Generator().manual_seed(7)
    d_e = trained_drail.discriminator(expert, generator=gen)
    d_a = trained_drail.discriminator(agent, generator=gen)
    accuracy = 0.5 * ((d_e > 0.5).float().mean() + (d_a < 0.5).float().mean())
    assert accuracy > 0.9
    r_e, r_a = trained_drail.reward(expert, generator=1), trained_drail.reward(agent, generator=1)
    assert r_e.mean() - r_a.mean() > 2.0


def test_drail_d_strictly_inside_unit_interval(trained_drail: DrailRewardModel) -> None:
    expert, agent = held_out(200)
    far = TransitionBatch(torch.full((4, 2), 50.0), torch.full((4, 2), -50.0))
    for batch in (expert, agent, far):
        d = trained_drail.discriminator(batch, generator=0)
        assert bool(((d > 0) & (d < 1)).all())
        assert torch.isfinite(trained_drail.reward(batch, generator=0)).all()


@pytest.mark.parametrize("reward_type", REWARD_TYPES)
def test_drail_reward_monotone_in_d(trained_drail: DrailRewardModel, reward_type: str) -> None:
    model = copy.deepcopy(trained_drail)
    model.config.reward_type = reward_type  # type: ignore[assignment]
    expert, agent = held_out(300)
    batch = TransitionBatch(torch.cat([expert.obs, agent.obs]), torch.cat([expert.act, agent.act]))  # type: ignore[list-item]
    d = model.discriminator(batch, generator=5)
    r = model.reward(batch, generator=5)
    # sort by D, breaking ties (D is float32, so it saturates near 0 and 1) by the reward
    order = torch.from_numpy(np.lexsort((r.numpy(), d.numpy())))
    r_sorted = r[order]
    # non-decreasing up to float32 rounding of the sigmoid (it is not exactly monotone in ulps)
    assert bool((r_sorted[1:] - r_sorted[:-1] >= -1e-4).all())
    # and, where D is not pinned near 0 or 1, it is the increasing map reward_from_d of D
    inside = (d > 1e-4) & (d < 1 - 1e-4)
    assert inside.sum() > 50 and (r_sorted[-1] > r_sorted[0])
    expected = reward_from_d(d[inside].double(), reward_type).float()
    torch.testing.assert_close(r[inside], expected, atol=1e-2, rtol=1e-3)


def test_drail_reward_deterministic_under_generator(trained_drail: DrailRewardModel) -> None:
    expert, _ = held_out(64)
    a = trained_drail.reward(expert, generator=torch.Generator().manual_seed(11))
    b = trained_drail.reward(expert, generator=torch.Generator().manual_seed(11))
    c = trained_drail.reward(expert, generator=11)
    d = trained_drail.reward(expert, generator=12)
    assert torch.equal(a, b) and torch.equal(a, c)
    assert not torch.equal(a, d)
    assert a.shape == (64,) and not a.requires_grad


@pytest.mark.parametrize("shared_noise", [True, False])
@pytest.mark.parametrize("num_draws", [1, 3])
def test_drail_scores_both_labels_in_one_forward(shared_noise: bool, num_draws: int) -> None:
    model = make("drail", shared_noise=shared_noise, num_draws=num_draws)
    rows: list[int] = []
    labels: list[torch.Tensor] = []

    def hook(_module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        rows.append(args[0].shape[0])
        labels.append(kwargs["label"])

    handle = model.denoiser.register_forward_pre_hook(hook, with_kwargs=True)
    expert, agent = held_out(10)
    model.reward(expert, generator=0)
    assert rows == [2 * 10 * num_draws]
    assert sorted(labels[0].tolist()) == [0] * 10 * num_draws + [1] * 10 * num_draws
    rows.clear()
    model.update(expert, agent)
    assert rows == [2 * 10 * num_draws] * 2  # one call per side of the BCE
    handle.remove()


def test_drail_shared_noise_cancels_when_labels_agree() -> None:
    expert, _ = held_out(50)
    for shared, expect_zero in ((True, True), (False, False)):
        model = make("drail", shared_noise=shared)
        assert isinstance(model, DrailRewardModel)
        with torch.no_grad():
            emb = model.denoiser.label_embed
            assert emb is not None
            emb.weight[1].copy_(emb.weight[0])
        logits = model.logits(expert, generator=torch.Generator().manual_seed(0))
        assert bool((logits.abs() < 1e-6).all()) == expect_zero


def test_drail_num_draws_reduces_estimate_variance() -> None:
    x = TransitionBatch(torch.full((1, 2), 0.3), torch.full((1, 2), -0.2))

    def spread(k: int) -> float:
        model = make("drail", num_draws=k)
        assert isinstance(model, DrailRewardModel)
        vals = [
            model.logits(x, generator=torch.Generator().manual_seed(s)).item() for s in range(60)
        ]
        return float(np.var(vals))

    assert spread(16) < spread(1) / 4


def test_drail_training_metrics() -> None:
    metrics = train(make("drail"), 5)
    assert {"loss", "expert_acc", "agent_acc", "expert_d", "agent_d"} <= set(metrics)
    assert all(isinstance(v, float) for v in metrics.values())


# ---------------------------------------------------------------- every model


@pytest.mark.parametrize("name", ["gail", "airl", "diffail", "wail", "drail-shaped"])
def test_models_separate_two_gaussians(name: str) -> None:
    if name == "drail-shaped":
        model = make("drail", potential_shaping=True)
        train(model, STEPS["drail"])
    else:
        model = make(name)
        train(model, STEPS[name])
    expert, agent = held_out()
    r_e, r_a = model.reward(expert, generator=3), model.reward(agent, generator=3)
    assert r_e.shape == r_a.shape == (1000,)
    assert r_e.mean() - r_a.mean() > 1.0
    # most individual pairs are ordered too
    assert (r_e > r_a).float().mean() > 0.8


def test_wail_normalised_reward_keeps_order() -> None:
    model = make("wail", normalize_reward=True)
    assert isinstance(model, WailRewardModel)
    train(model, STEPS["wail"])
    assert model.reward_stats.count == 128 * STEPS["wail"]
    expert, agent = held_out()
    r_e, r_a = model.reward(expert), model.reward(agent)
    assert r_e.mean() > r_a.mean() + 1.0
    with torch.no_grad():
        raw = model.score(expert)
    std = model.reward_stats.var.sqrt().float()
    torch.testing.assert_close(r_e, (raw - model.reward_stats.mean.float()) / std)


@pytest.mark.parametrize("momentum", [None, 0.3])
def test_running_mean_std(momentum: float | None) -> None:
    gen = torch.Generator().manual_seed(0)
    stats = RunningMeanStd(momentum)
    chunks = [torch.randn(50, generator=gen) * 2 + 3 for _ in range(4)]
    for chunk in chunks:
        stats.update(chunk)
    if momentum is None:
        allx = torch.cat(chunks).double()
        torch.testing.assert_close(stats.mean, allx.mean())
        torch.testing.assert_close(stats.var, allx.var(unbiased=False))
    else:
        for _ in range(40):  # a shifted stream is tracked
            stats.update(torch.randn(50, generator=gen) - 5)
        assert abs(stats.mean.item() + 5) < 0.5 and abs(stats.var.item() - 1) < 0.5


def test_gradient_penalty_is_zero_at_unit_slope_and_large_for_a_steep_critic() -> None:
    gen = torch.Generator().manual_seed(0)
    expert, agent = torch.randn(64, 4, generator=gen), torch.randn(64, 4, generator=gen) + 1
    w = torch.randn(4, generator=gen)
    w = w / w.norm()
    assert float(gradient_penalty(lambda x: x @ w, expert, agent)) < 1e-10  # 1-Lipschitz
    steep = float(gradient_penalty(lambda x: 10 * x @ w, expert, agent))
    assert steep == pytest.approx(81.0, rel=1e-4)  # (||grad|| - 1)^2 = 9^2
    assert float(gradient_penalty(lambda x: 10 * x @ w, expert, agent, target=10.0)) < 1e-8


def test_gail_gradient_penalty_option_keeps_the_logit_near_unit_slope() -> None:
    assert "regularizer" not in train(make("gail"), 3)  # off by default
    penalties = {}
    for weight in (0.0, 10.0):
        model = make("gail", grad_penalty=weight)
        metrics = train(model, 100)
        assert ("regularizer" in metrics) == (weight > 0)
        expert, agent = held_out(500)
        x_e, x_a = model.model_input(expert), model.model_input(agent)
        penalties[weight] = float(gradient_penalty(model.net, x_e, x_a).detach())
    # measured: 1.0-1.4 without the penalty, 0.001-0.003 with it (init seeds 0-2)
    assert penalties[10.0] < 0.05 < 0.5 < penalties[0.0]


def test_airl_log_prob_and_done() -> None:
    model = make("airl")
    assert isinstance(model, AirlRewardModel)
    expert, _ = held_out(20)
    base = model.logits(expert)
    log_prob = torch.linspace(-2, 1, 20)
    with_lp = TransitionBatch(expert.obs, expert.act, expert.next_obs, expert.done, log_prob)
    torch.testing.assert_close(model.logits(with_lp), base - log_prob)
    torch.testing.assert_close(model.reward(with_lp), base.detach() - log_prob)
    terminal = TransitionBatch(expert.obs, expert.act, expert.next_obs, torch.ones(20))
    g = model.g(torch.cat([expert.obs, expert.act], dim=1)).squeeze(-1)  # type: ignore[list-item]
    h = model.h(expert.obs).squeeze(-1)
    torch.testing.assert_close(model.shaped_reward(terminal), g - h)
    with pytest.raises(ValueError, match="next_obs"):
        model.logits(TransitionBatch(expert.obs, expert.act))


def test_drail_potential_shaping_is_airls_form_around_the_diffusion_logit() -> None:
    plain, shaped = make("drail"), make("drail", potential_shaping=True)
    assert not plain.needs_log_prob and not hasattr(plain, "h")
    assert shaped.needs_log_prob
    expert, _ = held_out(20)
    x = shaped.model_input(expert)
    losses = shaped.diffusion_losses(x, (1, 0), generator=torch.Generator().manual_seed(2))
    diffusion_logit = losses[1] - losses[0]  # L(c-) - L(c+), Eq. 2 of reference 000
    h = shaped.h  # type: ignore[union-attr]
    h_s, h_next = h(expert.obs).squeeze(-1), h(expert.next_obs).squeeze(-1)
    f = diffusion_logit + 0.99 * h_next - h_s
    gen = torch.Generator
    torch.testing.assert_close(shaped.logits(expert, generator=gen().manual_seed(2)), f)
    log_prob = torch.linspace(-2, 1, 20)
    with_lp = TransitionBatch(expert.obs, expert.act, expert.next_obs, expert.done, log_prob)
    torch.testing.assert_close(shaped.logits(with_lp, generator=gen().manual_seed(2)), f - log_prob)
    ended = TransitionBatch(expert.obs, expert.act, expert.next_obs, torch.ones(20))
    torch.testing.assert_close(
        shaped.logits(ended, generator=gen().manual_seed(2)), diffusion_logit - h_s
    )
    # the optimizer trains h with the denoiser
    before = [p.detach().clone() for p in h.parameters()]
    train(shaped, 2)
    assert any(not torch.equal(a, b) for a, b in zip(before, h.parameters(), strict=True))


def test_diffail_d_is_exp_minus_diffusion_loss() -> None:
    model = make("diffail")
    assert isinstance(model, DiffailRewardModel)
    expert, _ = held_out(30)
    x = model.model_input(expert)
    loss = model.diffusion_losses(x, None, generator=torch.Generator().manual_seed(4))[0]
    d = model.discriminator(expert, generator=4)
    torch.testing.assert_close(d, torch.exp(-loss).detach(), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", NAMES)
def test_obs_only_mode_uses_next_obs(name: str) -> None:
    model = make(name, obs_only=True)
    assert model.input_dim == 2 * OBS_DIM
    expert, agent = held_out(16)
    no_act = TransitionBatch(expert.obs, None, expert.next_obs)
    model.update(no_act, TransitionBatch(agent.obs, None, agent.next_obs))
    assert model.reward(no_act, generator=0).shape == (16,)
    with pytest.raises(ValueError, match="next_obs"):
        model.reward(TransitionBatch(expert.obs, expert.act), generator=0)


# ---------------------------------------------------------------- registry and checkpoints


def test_unknown_name_lists_valid_names() -> None:
    assert reward_model_names() == NAMES
    with pytest.raises(ValueError) as err:
        make_reward_model("gan", OBS_DIM, ACT_DIM)
    for name in NAMES:
        assert name in str(err.value)
    with pytest.raises(TypeError, match="GailConfig"):
        make_reward_model("gail", OBS_DIM, ACT_DIM, WailConfig())
    assert isinstance(make_reward_model("GAIL", 3, 1, GailConfig(hidden=(8,))), RewardModel)


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_gives_identical_rewards(name: str) -> None:
    model = make(name)
    train(model, 3)
    clone = make(name)
    clone.load_state_dict(model.state_dict())
    expert, agent = held_out(64)
    for batch in (expert, agent):
        assert torch.equal(model.reward(batch, generator=9), clone.reward(batch, generator=9))


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_restores_optimizer_state(name: str) -> None:
    model = make(name)
    train(model, 3)
    ckpt = copy.deepcopy(model.checkpoint())
    clone = make(name)
    clone.restore(ckpt)
    assert clone.num_updates == model.num_updates == 3
    expert, agent = held_out(32)
    for m in (model, clone):
        torch.manual_seed(5)
        m.update(expert, agent)
    for (k, p), q in zip(model.state_dict().items(), clone.state_dict().values(), strict=True):
        assert torch.equal(p, q), k


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", NAMES)
def test_models_follow_to_device_and_dtype(name: str, device: str) -> None:
    model = make(name).to(device)
    expert, agent = held_out(16)  # CPU batches are moved by the model
    metrics = model.update(expert, agent)
    assert np.isfinite(metrics["loss"])
    r = model.reward(expert, generator=torch.Generator().manual_seed(0))
    assert r.device.type == torch.device(device).type and r.shape == (16,)
    r2 = model.reward(expert, generator=torch.Generator().manual_seed(0))
    assert torch.equal(r, r2)
    double = make(name).double()
    assert double.reward(expert, generator=0).dtype == torch.float64

"""Tests of the shared diffusion core: schedules, embeddings, networks, the DDPM loss."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from diffil.diffusion import (
    NoisePredictionMLP,
    NoiseSchedule,
    as_generator,
    build_mlp,
    extract,
    make_schedule,
    noise_prediction_loss,
    timestep_embedding,
)


@pytest.mark.parametrize("name", ["linear", "cosine"])
@pytest.mark.parametrize("steps", [10, 100, 1000])
def test_schedule_alpha_bar_decreases_inside_unit_interval(name: str, steps: int) -> None:
    sched = make_schedule(name, steps)
    assert sched.num_steps == steps
    for buf in (sched.betas, sched.alphas, sched.alphas_cumprod, sched.alphas_cumprod_prev):
        assert buf.shape == (steps,)
    abar = sched.alphas_cumprod
    assert bool(((abar > 0) & (abar < 1)).all())
    assert bool((abar[1:] < abar[:-1]).all())
    assert bool(((sched.betas > 0) & (sched.betas < 1)).all())
    torch.testing.assert_close(sched.alphas, 1 - sched.betas)
    torch.testing.assert_close(sched.alphas_cumprod_prev[1:], abar[:-1])
    assert sched.alphas_cumprod_prev[0] == 1.0


def test_schedule_shapes_linear_vs_cosine() -> None:
    lin, cos = make_schedule("linear", 1000), make_schedule("cosine", 1000)
    # linear betas are an arithmetic progression from 1e-4 to 0.02 (DDPM)
    torch.testing.assert_close(lin.betas[0], torch.tensor(1e-4))
    torch.testing.assert_close(lin.betas[-1], torch.tensor(0.02))
    diffs = lin.betas[1:] - lin.betas[:-1]
    torch.testing.assert_close(diffs, torch.full_like(diffs, diffs.mean().item()))
    # both reach (almost) pure noise; cosine keeps more signal in the middle
    assert lin.alphas_cumprod[-1] < 1e-3
    assert cos.alphas_cumprod[-1] < 1e-3
    mid = 500
    assert cos.alphas_cumprod[mid] > lin.alphas_cumprod[mid]
    torch.testing.assert_close(cos.alphas_cumprod[mid], torch.tensor(0.5), atol=0.02, rtol=0)
    # linear with few steps is rescaled so it still ends near noise
    assert make_schedule("linear", 50).alphas_cumprod[-1] < 1e-3


def test_unknown_schedule_raises() -> None:
    with pytest.raises(ValueError, match="linear, cosine"):
        make_schedule("sigmoid", 10)
    with pytest.raises(ValueError):
        NoiseSchedule.linear(0)


@pytest.mark.parametrize("name", ["linear", "cosine"])
def test_q_sample_endpoints(name: str) -> None:
    torch.manual_seed(0)
    sched = make_schedule(name, 1000)
    x0 = torch.randn(4096, 3)
    eps = torch.randn(4096, 3)
    near = sched.q_sample(x0, torch.zeros(4096, dtype=torch.long), eps)
    torch.testing.assert_close(near, x0, atol=0.1, rtol=0)
    assert (near - x0).abs().mean() < 0.02
    far = sched.q_sample(x0, 999, eps)
    torch.testing.assert_close(far, eps, atol=0.1, rtol=0)
    # variance preserving: unit-variance data stays unit variance at every t
    mid = sched.q_sample(x0, torch.full((4096,), 400), eps)
    assert abs(mid.var().item() - 1.0) < 0.1


def test_q_sample_matches_formula_and_broadcasts() -> None:
    sched = make_schedule("linear", 100)
    x0 = torch.randn(5, 7, 2)
    eps = torch.randn(5, 7, 2)
    t = torch.tensor([0, 10, 50, 98, 99])
    xt = sched.q_sample(x0, t, eps)
    for i, ti in enumerate(t.tolist()):
        abar = sched.alphas_cumprod[ti]
        torch.testing.assert_close(xt[i], abar.sqrt() * x0[i] + (1 - abar).sqrt() * eps[i])
    assert extract(sched.alphas_cumprod, t, x0).shape == (5, 1, 1)


def test_schedule_buffers_follow_module_moves() -> None:
    sched = make_schedule("cosine", 20).double()
    assert sched.alphas_cumprod.dtype == torch.float64
    assert set(dict(sched.named_buffers())) >= {"betas", "alphas", "alphas_cumprod"}


def test_sample_timesteps_range_and_generator() -> None:
    sched = make_schedule("linear", 7)
    t = sched.sample_timesteps(1000, generator=torch.Generator().manual_seed(3))
    assert t.dtype == torch.long and t.min() == 0 and t.max() == 6
    t2 = sched.sample_timesteps(1000, generator=as_generator(3))
    assert torch.equal(t, t2)


def test_timestep_embedding() -> None:
    t = torch.arange(10)
    emb = timestep_embedding(t, 16)
    assert emb.shape == (10, 16)
    assert emb.abs().max() <= 1.0
    assert timestep_embedding(t, 15).shape == (10, 15)
    # distinct steps get distinct embeddings; step 0 is cos=1, sin=0
    assert torch.cdist(emb, emb).add(torch.eye(10)).min() > 1e-3
    torch.testing.assert_close(emb[0], torch.cat([torch.ones(8), torch.zeros(8)]))


def test_noise_prediction_mlp_shapes_and_conditioning() -> None:
    torch.manual_seed(0)
    net = NoisePredictionMLP(5, cond_dim=3, num_labels=2, hidden=(32, 32), time_embed_dim=8)
    x, t, c = torch.randn(6, 5), torch.randint(0, 100, (6,)), torch.randn(6, 3)
    out0 = net(x, t, cond=c, label=torch.zeros(6, dtype=torch.long))
    out1 = net(x, t, cond=c, label=torch.ones(6, dtype=torch.long))
    assert out0.shape == (6, 5)
    assert not torch.allclose(out0, out1)
    assert not torch.allclose(out0, net(x, t, cond=c + 1, label=torch.zeros(6, dtype=torch.long)))
    with pytest.raises(ValueError, match="condition"):
        net(x, t, label=torch.zeros(6, dtype=torch.long))
    with pytest.raises(ValueError, match="label"):
        net(x, t, cond=c)
    plain = NoisePredictionMLP(5, hidden=(16,), time_embed_dim=8)
    assert plain(x, t).shape == (6, 5)
    with pytest.raises(ValueError):
        plain(x, t, label=torch.zeros(6, dtype=torch.long))
    assert plain.double()(x.double(), t).dtype == torch.float64


def test_time_embedding_of_repeated_steps_equals_per_row() -> None:
    # a grid of 4 steps repeated over 200 rows takes the once-per-distinct-t path
    torch.manual_seed(0)
    net = NoisePredictionMLP(3, hidden=(16,), time_embed_dim=8)
    t = torch.tensor([0, 10, 50, 99]).repeat_interleave(200)
    per_row = net.time_embed(net.time_features(t))
    torch.testing.assert_close(net.embed_time(t), per_row)
    # gradients reach the time MLP the same way
    x = torch.randn(t.numel(), 3)
    net(x, t).square().sum().backward()
    grad = net.time_embed[0].weight.grad.clone()
    net.zero_grad()
    net.body(torch.cat([x, per_row], dim=-1)).square().sum().backward()
    torch.testing.assert_close(net.time_embed[0].weight.grad, grad)


def test_build_mlp_activation_and_errors() -> None:
    mlp = build_mlp(3, 2, (8, 8), "silu")
    assert isinstance(mlp[1], nn.SiLU) and mlp(torch.randn(4, 3)).shape == (4, 2)
    with pytest.raises(ValueError, match="mish"):
        build_mlp(3, 2, (8,), "gelu2")


class _OracleDenoiser(nn.Module):
    """Exact eps for data concentrated at x0 = 0: x_t = sqrt(1 - abar) eps."""

    def __init__(self, sched: NoiseSchedule) -> None:
        super().__init__()
        self.sched = sched

    def forward(
        self, x_t: Tensor, t: Tensor, cond: Tensor | None = None, label: Tensor | None = None
    ) -> Tensor:
        return x_t / (1 - extract(self.sched.alphas_cumprod, t, x_t)).sqrt()


def test_noise_prediction_loss_per_sample_and_oracle() -> None:
    sched = make_schedule("cosine", 50)
    x0 = torch.zeros(32, 4)
    loss = noise_prediction_loss(_OracleDenoiser(sched), sched, x0)
    assert loss.shape == (32,)
    torch.testing.assert_close(loss, torch.zeros(32), atol=1e-8, rtol=0)
    # a zero predictor's loss is the mean squared noise, given explicit eps
    eps = torch.randn(32, 4)
    zero = noise_prediction_loss(
        lambda x, t, cond=None, label=None: torch.zeros_like(x), sched, x0, eps=eps
    )
    torch.testing.assert_close(zero, eps.pow(2).mean(dim=1))


def test_noise_prediction_loss_deterministic_with_generator_and_trainable() -> None:
    torch.manual_seed(0)
    sched = make_schedule("cosine", 50)
    net = NoisePredictionMLP(2, hidden=(64, 64), time_embed_dim=16)
    data = torch.randn(256, 2) * 0.1 + torch.tensor([1.0, -1.0])
    a = noise_prediction_loss(net, sched, data, generator=torch.Generator().manual_seed(1))
    b = noise_prediction_loss(net, sched, data, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(2)
    before = noise_prediction_loss(net, sched, data, generator=gen).mean().item()
    for _ in range(150):
        loss = noise_prediction_loss(net, sched, data).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    gen = torch.Generator().manual_seed(2)
    after = noise_prediction_loss(net, sched, data, generator=gen).mean().item()
    assert after < 0.5 * before

"""Diffusion and flow-matching policies: multimodality, samplers, files, export, training runs."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch

from diffil.diffusion.parameterization import PREDICTIONS, split_prediction
from diffil.diffusion.temporal_unet import TemporalUnet1D
from diffil.errors import DiffilError
from diffil.generative import ActionChunkModel, GenerativePolicy, GenerativePolicyConfig
from diffil.generative.learner import ChunkModelLearner, fit
from diffil.policy import Policy
from diffil.toys import two_modes

SMALL = dict(hidden=(64, 64), time_embed_dim=16, diffusion_steps=50)


# Trained once per test process and per objective (or prediction type) on first use, not in a
# module fixture: pytest-xdist may split this module's tests between its workers, and a module
# fixture would then train every network on each of them.
@functools.cache
def two_mode_fractions(objective: str) -> dict[str, float]:
    """The fraction of 40 rollouts in each mode of the two-mode toy, for a policy trained with
    ``objective`` (``regression``: MLP BC) on 100 expert demonstrations."""
    demos = two_modes.expert_demonstrations(100, seed=0)
    # (128, 128): 40% less time than (256, 256) and the same modes over seeds 0-2 (blocked
    # 0.10-0.18 at most); it is the step counts that must stay (half of them: 0.3-0.7 blocked)
    cfg = GenerativePolicyConfig(
        hidden=(128, 128), time_embed_dim=32, obs_horizon=1, action_horizon=8, exec_horizon=4,
        diffusion_steps=50, sample_steps=10, ema_decay=0.99,
    )  # fmt: skip
    steps = {"regression": 500, "diffusion": 3000, "flow": 2000}[objective]
    policy = two_modes.train_policy(objective, demos, steps=steps, seed=0, config=cfg)
    modes = [two_modes.mode_of(p) for p in two_modes.rollout_paths(policy, 40, seed=1)]
    return {m: modes.count(m) / len(modes) for m in two_modes.MODES}


def test_toy_expert_has_two_equal_modes():
    demos = two_modes.expert_demonstrations(20, seed=0)
    modes = [two_modes.mode_of(t.observations) for t in demos]
    assert modes.count("left") == modes.count("right") == 10


@pytest.mark.parametrize("objective", ["diffusion", "flow"])
def test_generative_policies_reproduce_both_modes(objective):
    f = two_mode_fractions(objective)
    assert 0.25 <= f["left"] <= 0.75 and 0.25 <= f["right"] <= 0.75, f
    assert f["blocked"] <= 0.25, f


def test_mlp_bc_collapses_to_the_middle():
    f = two_mode_fractions("regression")
    assert f["blocked"] >= 0.6, f


def _model(objective: str, sampler: str, **kw) -> ActionChunkModel:
    torch.manual_seed(0)
    cfg = GenerativePolicyConfig(
        **{**SMALL, "sampler": sampler, "obs_horizon": 2, "action_horizon": 4, **kw}
    )
    model = ActionChunkModel(3, 2, objective, cfg)
    with torch.no_grad():  # not the near-zero output of a fresh init
        for p in model.net.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return model.eval()


SAMPLERS = [("diffusion", "ddim"), ("diffusion", "ddpm"), ("diffusion", "langevin"),
            ("flow", "euler"), ("flow", "midpoint")]  # fmt: skip


@pytest.mark.parametrize(("objective", "sampler"), SAMPLERS)
def test_sampler_shapes_and_determinism(objective, sampler):
    model = _model(objective, sampler)
    obs = torch.randn(5, 2, 3)

    def draw(seed: int) -> torch.Tensor:
        with torch.no_grad():
            return model.sample(obs, generator=torch.Generator().manual_seed(seed))

    a, b, c = draw(1), draw(1), draw(2)
    assert a.shape == (5, 4, 2) and torch.isfinite(a).all()
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    # actions stay inside the demonstrated range (scaled samples are clipped to [-1, 1])
    assert (a >= model.act_low - 1e-6).all() and (a <= model.act_high + 1e-6).all()
    if model.deterministic_sampler:  # a function of the initial noise alone
        noise = torch.randn(5, 4, 2)
        with torch.no_grad():
            x = model.sample(obs, noise, generator=torch.Generator().manual_seed(3))
            y = model.sample(obs, noise, generator=torch.Generator().manual_seed(4))
        assert torch.equal(x, y)


@functools.cache
def mixture_policy(prediction: str) -> GenerativePolicy:
    """A small diffusion network predicting ``prediction``, trained on a 30/70 mixture at -0.6
    and +0.6 (1-D actions, no observation)."""
    n = 4000
    gen = torch.Generator().manual_seed(0)
    left = torch.rand(n, 1, 1, generator=gen) < 0.3
    actions = torch.where(left, -0.6, 0.6) + 0.05 * torch.randn(n, 1, 1, generator=gen)
    torch.manual_seed(0)
    cfg = GenerativePolicyConfig(
        **SMALL, obs_horizon=1, action_horizon=1, exec_horizon=1, prediction=prediction
    )
    model = ActionChunkModel(1, 1, "diffusion", cfg)
    model.fit_normalization(np.zeros((n, 1)), np.array([[-1.0], [1.0]]))
    learner = ChunkModelLearner(model, learning_rate=3e-3)
    fit(learner, torch.zeros(n, 1, 1), actions, steps=1500)
    return learner.policy()


@pytest.mark.parametrize("prediction", PREDICTIONS)
@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "langevin"])
def test_trained_diffusion_networks_recover_a_mixture(prediction, sampler):
    """Every prediction type, every sampler: the 30/70 weights and the modes at +-0.6."""
    policy = mixture_policy(prediction).with_sampler(sampler)
    x = policy.sample_chunk(np.zeros((2000, 1, 1))).ravel()
    assert abs((x < 0).mean() - 0.3) < 0.08, (x < 0).mean()
    assert np.abs(np.abs(x) - 0.6).mean() < 0.1  # near the modes, not between them


def _clean_estimate_error_at_noisiest_step(policy: GenerativePolicy, n: int = 2000) -> float:
    """MSE of the network's one-shot estimate of the clean (scaled) action at step T - 1."""
    model = policy.model
    gen = torch.Generator().manual_seed(5)
    x0 = torch.where(torch.rand(n, 1, 1, generator=gen) < 0.3, -0.6, 0.6)
    t = model.schedule.num_steps - 1
    abar = model.schedule.alphas_cumprod[t]
    x_t = model.schedule.q_sample(x0, t, torch.randn(x0.shape, generator=gen))
    with torch.no_grad():
        output = model.denoise(x_t, torch.full((n,), t), model.condition(torch.zeros(n, 1, 1)))
    estimate, _ = split_prediction(model.config.prediction, output, x_t, abar)
    return float((estimate - x0).pow(2).mean())


def test_default_network_estimates_the_clean_action_at_the_noisiest_step():
    """Regression test of the defect behind issue 21: at the cosine schedule's last step abar is
    ~1e-7, so an eps network's x0 estimate multiplies its error by ~2,000 and DDIM's first step
    starts from a clipped corner of the action box. The default network's estimate there must be
    no worse than predicting the data mean (variance 0.30 here)."""
    default = GenerativePolicyConfig().prediction
    assert _clean_estimate_error_at_noisiest_step(mixture_policy(default)) < 0.4
    assert _clean_estimate_error_at_noisiest_step(mixture_policy("epsilon")) > 10.0


def test_policy_files_from_before_the_prediction_option_load_as_epsilon_networks():
    model = _model("diffusion", "ddim", prediction="epsilon", network_input="native")
    spec = model.spec
    del spec["config"]["prediction"], spec["config"]["network_input"]
    assert ActionChunkModel.from_spec(spec).config.prediction == "epsilon"
    assert ActionChunkModel.from_spec(spec).config.network_input == "native"


def test_unknown_prediction_is_a_clear_error():
    with pytest.raises(DiffilError, match=r"generative\.prediction"):
        _model("diffusion", "ddim", prediction="noise")
    with pytest.raises(DiffilError, match=r"generative\.flow_path"):
        _model("flow", "euler", flow_path="straight")
    with pytest.raises(DiffilError, match=r"generative\.schedule"):
        _model("diffusion", "ddim", schedule="quadratic")


def test_network_inputs_agree_at_one_signal_to_noise_ratio():
    """generative.network_input: a diffusion network asked for the linear path's scale sees what a
    flow network sees at the same signal-to-noise ratio, and vice versa."""
    from diffil.diffusion.flow import TIME_SCALE

    gen = torch.Generator().manual_seed(0)
    x, eps = torch.randn(5, 4, 2, generator=gen), torch.randn(5, 4, 2, generator=gen)
    diffusion = _model("diffusion", "ddim", network_input="linear")
    step = torch.full((5,), 17)
    abar = float(diffusion.schedule.alphas_cumprod[17])
    a, s = abar**0.5, (1 - abar) ** 0.5
    x_vp = a * x + s * eps
    u = a / (a + s)  # the linear path's time with the ratio a / s
    x_lin = (1 - u) * eps + u * x
    t_flow = torch.full((5,), u * TIME_SCALE)
    torch.testing.assert_close(diffusion.network_input(x_vp, step), x_lin)
    flow_vp = _model("flow", "euler", network_input="vp")
    torch.testing.assert_close(flow_vp.network_input(x_lin, t_flow), x_vp)
    assert _model("flow", "euler").network_input(x_lin, t_flow) is x_lin  # native
    cosine = _model("flow", "euler", flow_path="cosine", network_input="linear")
    t_cos = torch.full((5,), 2 / math.pi * math.atan(a / s) * TIME_SCALE)
    torch.testing.assert_close(cosine.network_input(x_vp, t_cos), x_lin)
    with pytest.raises(DiffilError, match=r"generative\.network_input"):
        _model("flow", "euler", network_input="unit")


def test_temporal_unet_any_horizon():
    net = TemporalUnet1D(3, cond_dim=4, channels=(16, 32, 32), time_embed_dim=8)
    for horizon in (1, 5, 8, 13):
        out = net(torch.randn(2, horizon, 3), torch.tensor([0, 7]), torch.randn(2, 4))
        assert out.shape == (2, horizon, 3)


def test_save_load_predict_and_receding_horizon(tmp_path):
    model = _model("diffusion", "ddim", exec_horizon=3)
    policy = GenerativePolicy(model, {"task": "x"}, seed=5)
    path = policy.save(tmp_path / "policy.pt")
    loaded = Policy.load(path)
    assert isinstance(loaded, GenerativePolicy) and loaded.metadata == {"task": "x"}
    obs = np.random.default_rng(0).normal(size=(4, 3))
    loaded.reset(seed=0)
    policy.reset(seed=0)
    np.testing.assert_array_equal(loaded.predict(obs), policy.predict(obs))
    assert loaded.predict(obs[0]).shape == (2,)

    calls = []
    original = loaded.sample_chunk
    loaded.sample_chunk = lambda h: calls.append(h.shape) or original(h)  # type: ignore[method-assign]
    loaded.reset()
    actions = [loaded(o) for o in obs] + [loaded(obs[0]) for _ in range(3)]
    assert len(actions) == 7 and actions[0].shape == (2,)
    assert calls == [(1, 2, 3)] * 3  # a new chunk every exec_horizon = 3 steps, history H_o = 2


EXPORTED = [
    ("diffusion", "ddim", "mlp", "native"),
    ("flow", "midpoint", "unet", "native"),
    ("diffusion", "ddim", "mlp", "linear"),
    ("flow", "euler", "mlp", "vp"),
]


@pytest.mark.parametrize(("objective", "sampler", "network", "network_input"), EXPORTED)
def test_export_matches(tmp_path, objective, sampler, network, network_input):
    import onnxruntime

    kw: dict = {"network": network, "unet_channels": (16, 32)} if network == "unet" else {}
    kw["network_input"] = network_input
    kw["sample_steps"] = 3  # the graph unrolls every step: keep it small
    policy = GenerativePolicy(_model(objective, sampler, **kw))
    obs = np.random.default_rng(1).normal(size=(7, 2, 3)).astype(np.float32)
    noise = np.random.default_rng(2).normal(size=(7, 4, 2)).astype(np.float32)
    with torch.no_grad():
        expected = policy.model.sample(torch.from_numpy(obs), torch.from_numpy(noise)).numpy()
    session = onnxruntime.InferenceSession(str(policy.export_onnx(tmp_path / "p.onnx")))
    got = session.run(None, {"obs_history": obs, "noise": noise})[0]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    traced = torch.jit.load(str(policy.export_torchscript(tmp_path / "p.ts")))
    np.testing.assert_allclose(
        traced(torch.from_numpy(obs), torch.from_numpy(noise)).numpy(), expected, atol=1e-5
    )


def test_stochastic_sampler_exports_to_torchscript_only(tmp_path):
    policy = GenerativePolicy(_model("diffusion", "ddpm"))
    with pytest.raises(DiffilError, match="ONNX"):
        policy.export_onnx(tmp_path / "p.onnx")
    assert not (tmp_path / "p.onnx").exists()
    traced = torch.jit.load(str(policy.export_torchscript(tmp_path / "p.ts")))
    out = traced(torch.randn(3, 2, 3), torch.randn(3, 4, 2))
    assert out.shape == (3, 4, 2) and torch.isfinite(out).all()


def test_wrong_sampler_for_objective_is_a_clear_error():
    with pytest.raises(DiffilError, match="does not fit a flow policy"):
        GenerativePolicyConfig(sampler="ddim").validate("flow")
    with pytest.raises(DiffilError, match="exec_horizon"):
        GenerativePolicyConfig(action_horizon=4, exec_horizon=8).validate("diffusion")


GEN_TINY = {
    "num_demos": 10,
    "bc": {"steps": 300, "batch_size": 64},
    "generative": {"hidden": [64, 64], "time_embed_dim": 16, "diffusion_steps": 20},
    "eval": {"episodes": 10, "final_episodes": 10},
}


def test_diffusion_policy_run_resumes_evaluates_and_exports(tmp_path, capsys, monkeypatch):
    import csv

    import onnxruntime

    from diffil.algorithms.offline import GenerativePolicyTrainer
    from diffil.algorithms.run import train
    from diffil.cli import main
    from diffil.errors import TrainingInterrupted

    out = tmp_path / "dp"
    original = GenerativePolicyTrainer.train_step
    calls = {"n": 0}

    def interrupt(self):
        calls["n"] += 1
        if calls["n"] == 200:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(GenerativePolicyTrainer, "train_step", interrupt)
    with pytest.raises(TrainingInterrupted):
        train("diffusion-policy", "pointmaze-umaze", out=out, overrides=GEN_TINY, progress=False)
    monkeypatch.setattr(GenerativePolicyTrainer, "train_step", original)
    result = train(resume=out, progress=False)
    with open(out / "metrics.csv") as f:
        steps = [int(r["step"]) for r in csv.DictReader(f)]
    assert steps == list(range(15, 301, 15))  # logged every 5%, none lost or repeated
    with open(out / "metrics.csv") as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    policy = Policy.load(result.policy_path)
    assert isinstance(policy, GenerativePolicy) and policy.metadata["method"] == "diffusion-policy"
    # 300 steps: 0.5-0.7 over seeds 0-4 (10 episodes); actions drawn at random reach 0.15
    assert result.evaluation["success_rate"] >= 0.4
    assert result.evaluation["episodes"] == 10

    capsys.readouterr()
    assert main(["eval", str(out), "--episodes", "2"]) == 0
    printed = capsys.readouterr().out
    assert "pointmaze-umaze" in printed and "success" in printed and "(2 episodes)" in printed
    # lockstep evaluation: the chunk policy acts on 10 environments' batch, as well as alone
    from diffil.envs.registry import get_task
    from diffil.eval.evaluate import evaluate_policy

    together = evaluate_policy(get_task("pointmaze-umaze"), policy, 20, num_envs=10)
    assert together["episodes"] == 20 and together["success_rate"] >= 0.4
    assert main(["eval", str(out), "--episodes", "4", "--envs", "2"]) == 0
    assert "(4 episodes)" in capsys.readouterr().out
    assert main(["export", str(out), "--format", "onnx"]) == 0
    cfg = policy.model.config
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(5, cfg.obs_horizon, policy.obs_dim)).astype(np.float32)
    noise = rng.normal(size=(5, cfg.action_horizon, policy.act_dim)).astype(np.float32)
    session = onnxruntime.InferenceSession(str(out / "policy.onnx"))
    with torch.no_grad():
        expected = policy.model.sample(torch.from_numpy(obs), torch.from_numpy(noise)).numpy()
    got = session.run(None, {"obs_history": obs, "noise": noise})[0]
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_unet_flow_policy_trains_from_the_cli(tmp_path, capsys):
    from diffil.cli import main

    out = tmp_path / "fp"
    args = ["train", "flow-policy", "--task", "pointmaze-umaze", "--out", str(out), "--quiet"]
    sets = ["bc.steps=60", "num_demos=5", "generative.network=unet",
            "generative.unet_channels=[16,32]", "eval.episodes=1",
            "eval.final_episodes=1"]  # fmt: skip
    assert main([*args, *(x for s in sets for x in ("--set", s))]) == 0
    policy = Policy.load(out / "policy.pt")
    assert policy.kind == "flow" and policy.model.config.network == "unet"
    code = main([*args[:4], "--out", str(tmp_path / "x"), "--set", "generative.sampler=ddim"])
    assert code == 2
    assert "does not fit a flow policy" in capsys.readouterr().err


def test_run_directories_from_before_the_options_resume_as_they_trained(tmp_path):
    """A config.yaml without generative.prediction (network_input) was written by an eps-trained
    run (a network fed its path's own scale): resuming it must not switch the checkpointed
    network to the new defaults."""
    import yaml

    from diffil.algorithms.config import read_run_config, resolve_config
    from diffil.runs.run_dir import RunDirectory

    config = resolve_config("diffusion-policy", "pointmaze-umaze")
    run = RunDirectory.create(tmp_path / "old", config.to_yaml())
    new = read_run_config(run.path).generative
    assert (new.prediction, new.network_input) == ("v_prediction", "linear")
    data = yaml.safe_load(run.config_path.read_text())
    del data["generative"]["prediction"], data["generative"]["network_input"]
    run.config_path.write_text(yaml.safe_dump(data))
    old = read_run_config(run.path).generative
    assert (old.prediction, old.network_input) == ("epsilon", "native")

"""Deployable policies: equality with Stable-Baselines3, files, ONNX and TorchScript export."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

from diffil.envs import get_task
from diffil.errors import DiffilError
from diffil.policy import Policy, export_policy

TASK = "pointmaze-umaze"


def _perturb(module: torch.nn.Module, scale: float, seed: int) -> None:
    """Add noise to every weight so the policy is not the near-zero output of a fresh init."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.add_(scale * torch.randn(param.shape, generator=gen))


def _observations(mean: np.ndarray, std: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Raw float64 observations around ``mean``, some far enough out to hit the obs clipping."""
    rng = np.random.default_rng(seed)
    return mean + std * rng.normal(size=(n, mean.size)) * rng.choice([0.5, 2.0, 8.0], (n, 1))


@pytest.fixture(scope="module")
def ppo_setup():
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    task = get_task(TASK)
    vecnorm = VecNormalize(
        DummyVecEnv([lambda: task.make_env(seed=0)]), norm_reward=False, clip_obs=3.0
    )
    vecnorm.seed(0)
    vecnorm.reset()
    rng = np.random.default_rng(0)
    for _ in range(150):  # update the running statistics
        vecnorm.step(rng.uniform(-1, 1, size=(1, task.act_dim)).astype(np.float32))
    vecnorm.training = False
    model = PPO("MlpPolicy", vecnorm, policy_kwargs=dict(net_arch=[32, 32]), seed=0, device="cpu")
    _perturb(model.policy, 0.3, seed=1)
    rms = vecnorm.obs_rms
    obs = _observations(rms.mean, np.sqrt(rms.var), 64, seed=2)
    policy = Policy.from_sb3(
        model,
        obs_rms=rms,
        clip_obs=vecnorm.clip_obs,
        epsilon=vecnorm.epsilon,
        metadata={"task": TASK, "algo": "ppo", "note": ("tuple", 1)},
    )
    return model, vecnorm, policy, obs


@pytest.fixture(scope="module")
def sac_setup():
    from gymnasium.wrappers import RescaleAction
    from stable_baselines3 import SAC

    # Asymmetric bounds, so the rescaling of the squashed action is exercised.
    env = RescaleAction(
        get_task(TASK).make_env(seed=0),
        np.array([-2.0, 0.0], dtype=np.float32),
        np.array([0.5, 3.0], dtype=np.float32),
    )
    model = SAC(
        "MlpPolicy",
        env,
        policy_kwargs=dict(net_arch=[32, 32]),
        buffer_size=100,
        seed=0,
        device="cpu",
    )
    _perturb(model.policy.actor, 0.3, seed=3)
    obs = _observations(np.zeros(6), np.ones(6), 64, seed=4)
    return model, Policy.from_sb3(model), obs


def test_ppo_matches_sb3(ppo_setup):
    model, vecnorm, policy, obs = ppo_setup
    expected = model.predict(vecnorm.normalize_obs(obs), deterministic=True)[0]
    actions = policy.predict(obs)
    assert actions.shape == (64, 2) and actions.dtype == np.float32
    np.testing.assert_allclose(actions, expected, rtol=0, atol=1e-6)
    assert np.any(np.abs(expected) == 1.0) and np.any(np.abs(expected) < 1.0)  # clipping matters
    single = policy.predict(obs[3])
    assert single.shape == (2,) and single.dtype == np.float32
    np.testing.assert_allclose(single, expected[3], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(policy(obs), actions)
    obs32 = obs.astype(np.float32)
    expected32 = model.predict(vecnorm.normalize_obs(obs32), deterministic=True)[0]
    np.testing.assert_allclose(policy.predict(obs32), expected32, rtol=0, atol=1e-6)
    assert (policy.obs_dim, policy.act_dim, policy.kind) == (6, 2, "ppo")
    assert policy.metadata == {"task": TASK, "algo": "ppo", "note": ["tuple", 1]}


def test_sac_matches_sb3(sac_setup):
    model, policy, obs = sac_setup
    expected = model.predict(obs, deterministic=True)[0]
    actions = policy.predict(obs)
    assert actions.shape == (64, 2) and actions.dtype == np.float32
    np.testing.assert_allclose(actions, expected, rtol=0, atol=1e-6)
    assert np.ptp(expected, axis=0).min() > 0.1  # not a constant policy
    np.testing.assert_allclose(policy.predict(obs[0]), expected[0], rtol=0, atol=1e-6)
    assert policy.kind == "sac" and policy.metadata == {}


@pytest.mark.parametrize("algo", ["ppo", "sac"])
def test_gsde_models_match_sb3(algo):
    from stable_baselines3 import PPO, SAC

    env = get_task(TASK).make_env(seed=0)
    kwargs = dict(net_arch=[16])
    if algo == "ppo":  # gSDE with squashing: tanh + rescale instead of clipping
        model = PPO(
            "MlpPolicy", env, use_sde=True, policy_kwargs=dict(squash_output=True, **kwargs)
        )
    else:  # gSDE SAC clips the mean with a Hardtanh before squashing
        model = SAC(
            "MlpPolicy", env, use_sde=True, buffer_size=100, policy_kwargs=kwargs, device="cpu"
        )
    _perturb(model.policy, 1.0, seed=5)
    obs = _observations(np.zeros(6), np.ones(6), 32, seed=6)
    expected = model.predict(obs, deterministic=True)[0]
    np.testing.assert_allclose(Policy.from_sb3(model).predict(obs), expected, rtol=0, atol=1e-6)


def test_save_load_round_trip(ppo_setup, tmp_path, monkeypatch):
    _, _, policy, obs = ppo_setup
    path = policy.save(tmp_path / "sub" / "policy.pt")
    assert path == tmp_path / "sub" / "policy.pt" and path.is_file()
    assert sorted(p.name for p in path.parent.iterdir()) == ["policy.pt"]  # no temporary left

    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "diffil.policy" and raw["architecture"]["kind"] == "ppo"
    assert all(isinstance(v, torch.Tensor) for v in raw["state_dict"].values())
    layers = raw["architecture"]["layers"]
    assert [layer.get("out_features") for layer in layers] == [32, None, 32, None, 2]
    assert layers[1] == {"type": "activation", "name": "tanh", "args": {}}

    # Loading must not need Stable-Baselines3.
    for name in [m for m in sys.modules if m.split(".")[0] == "stable_baselines3"]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "stable_baselines3", None)
    loaded = Policy.load(path)
    np.testing.assert_array_equal(loaded.predict(obs), policy.predict(obs))
    assert loaded.metadata == policy.metadata
    module = loaded.as_module()
    assert all(type(m).__module__.startswith(("torch.", "diffil.")) for m in module.modules())


def test_sac_save_load_round_trip(sac_setup, tmp_path):
    _, policy, obs = sac_setup
    loaded = Policy.load(policy.save(tmp_path / "sac.pt"))
    np.testing.assert_array_equal(loaded.predict(obs), policy.predict(obs))


@pytest.mark.parametrize("case", ["missing", "directory", "garbage", "truncated", "foreign"])
def test_load_bad_file_is_one_line_error(ppo_setup, tmp_path, case):
    path = tmp_path / "policy.pt"
    if case == "directory":
        path.mkdir()
    elif case == "garbage":
        path.write_bytes(b"\x00not a policy\n" * 10)
    elif case == "truncated":
        data = ppo_setup[2].save(tmp_path / "good.pt").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "foreign":
        torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(DiffilError) as info:
        Policy.load(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message


def test_load_rejects_inconsistent_description(ppo_setup, tmp_path):
    path = ppo_setup[2].save(tmp_path / "policy.pt")
    payload = torch.load(path, weights_only=True)
    payload["architecture"]["layers"][0]["out_features"] = 31
    torch.save(payload, path)
    with pytest.raises(DiffilError, match="policy description") as info:
        Policy.load(path)
    assert "\n" not in str(info.value)


def test_onnx_export_matches_torch(ppo_setup, tmp_path):
    import onnxruntime as ort

    _, _, policy, obs = ppo_setup
    path = export_policy(policy, tmp_path / "policy.onnx", "onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["obs"]
    assert [o.name for o in session.get_outputs()] == ["action"]
    obs32 = obs.astype(np.float32)
    for batch in (obs32, obs32[:1]):
        (actions,) = session.run(["action"], {"obs": batch})
        assert actions.shape == (len(batch), 2)
        np.testing.assert_allclose(actions, policy.predict(batch), rtol=0, atol=1e-5)


def test_onnx_export_sac(sac_setup, tmp_path):
    import onnxruntime as ort

    _, policy, obs = sac_setup
    session = ort.InferenceSession(str(policy.export_onnx(tmp_path / "sac.onnx")))
    obs32 = obs.astype(np.float32)
    (actions,) = session.run(None, {"obs": obs32})
    np.testing.assert_allclose(actions, policy.predict(obs32), rtol=0, atol=1e-5)


def test_torchscript_export_matches(ppo_setup, tmp_path):
    _, _, policy, obs = ppo_setup
    path = export_policy(policy, tmp_path / "policy.ts", "torchscript")
    scripted = torch.jit.load(str(path))
    obs32 = torch.from_numpy(obs.astype(np.float32))
    with torch.no_grad():
        for batch in (obs32, obs32[:1]):
            np.testing.assert_allclose(
                scripted(batch).numpy(), policy.predict(batch.numpy()), rtol=0, atol=1e-6
            )


def test_export_diffil_format_and_unknown_format(ppo_setup, tmp_path):
    _, _, policy, obs = ppo_setup
    path = export_policy(policy, tmp_path / "policy.pt", "diffil")
    np.testing.assert_array_equal(Policy.load(path).predict(obs), policy.predict(obs))
    with pytest.raises(DiffilError, match="onnx, torchscript") as info:
        export_policy(policy, tmp_path / "policy.bin", "tflite")
    assert "\n" not in str(info.value)


def test_predict_rejects_wrong_shapes(ppo_setup):
    policy = ppo_setup[2]
    for bad in (np.zeros(5), np.zeros((2, 7)), np.zeros((1, 2, 6)), np.array(["a"] * 6)):
        with pytest.raises(DiffilError):
            policy.predict(bad)


def test_from_sb3_rejects_bad_statistics(ppo_setup):
    from stable_baselines3.common.running_mean_std import RunningMeanStd

    model, vecnorm, _, _ = ppo_setup
    with pytest.raises(DiffilError, match="dims"):
        Policy.from_sb3(model, obs_rms=RunningMeanStd(shape=(3,)))
    with pytest.raises(DiffilError, match="VecNormalize"):
        Policy.from_sb3(model, obs_rms=vecnorm)
    with pytest.raises(DiffilError, match="JSON"):
        Policy.from_sb3(model, metadata={"bad": object()})

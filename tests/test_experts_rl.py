"""RL experts: `diffil expert train/eval`, resume, and `diffil collect --expert`."""

from __future__ import annotations

import csv
import hashlib
import json
import signal

import numpy as np
import pytest
import torch
import yaml
from stable_baselines3 import PPO, SAC, TD3
from stable_baselines3.common.save_util import load_from_pkl
from stable_baselines3.common.vec_env import VecNormalize

import diffil
from diffil.algorithms import expert_training
from diffil.cli import main
from diffil.experts import make_expert, rl_expert
from diffil.rl.ppo import make_vec_env

torch.set_num_threads(1)

# A run small enough for one core: 600 env steps, 400 of them with SAC updates on a tiny net.
TINY = {
    "learning_starts": 200,
    "eval_every": 300,
    "eval_episodes": 1,
    "checkpoint_every": 300,
    "net_arch": [32, 32],
    "batch_size": 64,
    "buffer_size": 2000,
}


def tiny_settings(**changes) -> list[str]:
    settings = {**TINY, **changes}
    return [arg for k, v in settings.items() for arg in ("--set", f"{k}={json.dumps(v)}")]


def read_metrics(run) -> list[dict[str, str]]:
    with (run / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


def checkpoint_state(run) -> dict:
    return json.loads((run / "checkpoints" / "latest" / "state.json").read_text())


def observations(n: int = 64) -> np.ndarray:
    """Real hopper states from a random rollout, plus random ones."""
    env = diffil.get_task("hopper").make_env(seed=0)
    obs, _ = env.reset(seed=0)
    states = []
    for _ in range(n // 2):
        states.append(obs)
        obs, _, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            obs, _ = env.reset()
    env.close()
    rng = np.random.default_rng(0)
    return np.concatenate([np.asarray(states), rng.normal(size=(n - len(states), 11))])


@pytest.fixture(scope="module")
def tiny_expert(tmp_path_factory):
    run = tmp_path_factory.mktemp("experts") / "hopper-s0"
    overrides = {**TINY, "steps": 600}
    result = diffil.train_expert("hopper", out=run, overrides=overrides, progress=False)
    assert result.run_dir == run and result.env_steps == 600
    return run


def test_tiny_sac_run_writes_a_complete_directory(tiny_expert):
    run = tiny_expert
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["algo"] == "sac" and config["task"] == "hopper" and config["steps"] == 600
    # zoo's MuJoCo SAC values where the test did not change them
    assert config["learning_rate"] == 3e-4 and config["tau"] == 0.005 and config["gamma"] == 0.99
    assert config["train_freq"] == 1 and config["gradient_steps"] == 1
    assert config["buffer_size"] == 2000 and config["net_arch"] == [32, 32]

    rows = read_metrics(run)
    assert [int(r["env_steps"]) for r in rows] == [300, 600]
    for row in rows:
        assert float(row["steps_per_s"]) > 0 and float(row["time_s"]) > 0
        assert row["eval_return_mean"] and row["eval_return_std"]
    returns = [float(r["eval_return_mean"]) for r in rows]
    assert float(rows[-1]["best_return"]) == pytest.approx(max(returns))
    assert [int(r["buffer_size"]) for r in rows] == [300, 600]

    ckpt = run / "checkpoints" / "latest"
    assert {"model.zip", "replay_buffer.pkl", "state.json", "best.pt"} <= {
        p.name for p in ckpt.iterdir()
    }
    state = checkpoint_state(run)
    assert state["env_steps"] == 600 and state["buffer_size"] == 600
    assert load_from_pkl(ckpt / "replay_buffer.pkl").size() == 600
    assert SAC.load(ckpt / "model.zip").num_timesteps == 600
    assert not list(ckpt.parent.glob(".staging-*"))

    best = diffil.Policy.load(run / "best.pt").metadata
    final = diffil.Policy.load(run / "policy.pt").metadata
    assert best["role"] == "best" and best["eval_return_mean"] == pytest.approx(max(returns))
    assert best["env_steps"] == [300, 600][int(np.argmax(returns))]
    assert final["role"] == "final" and final["env_steps"] == 600 and final["algo"] == "sac"
    assert final["eval_return_mean"] == pytest.approx(returns[-1])
    evaluation = json.loads((run / "eval.json").read_text())
    assert evaluation["env_steps"] == 600 and evaluation["best"]["env_steps"] == best["env_steps"]


def test_saved_policy_acts_like_the_sb3_actor(tiny_expert):
    model = SAC.load(tiny_expert / "checkpoints" / "latest" / "model.zip")
    policy = diffil.Policy.load(tiny_expert / "policy.pt")
    obs = observations()
    expected, _ = model.predict(obs.astype(np.float32), deterministic=True)
    np.testing.assert_allclose(policy.predict(obs), expected, atol=1e-5)
    # as an expert for collection: the run directory means its best policy
    expert = diffil.load_expert(tiny_expert, "hopper")
    assert expert.path == tiny_expert / "best.pt"
    best = diffil.Policy.load(tiny_expert / "best.pt")
    np.testing.assert_array_equal(expert(obs[0]), best.predict(obs[0]))
    # with action noise: different, inside the bounds, reproducible with the seed
    noisy = make_expert(diffil.get_task("hopper"), seed=3, action_noise=0.5, expert=tiny_expert)
    again = make_expert(diffil.get_task("hopper"), seed=3, action_noise=0.5, expert=tiny_expert)
    a, b = noisy(obs), again(obs)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, best.predict(obs)) and np.all(np.abs(a) <= 1.0)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_ctrl_c_checkpoints_and_resume_continues_from_it(tmp_path, monkeypatch, capsys, signum):
    run = tmp_path / "run"
    real_evaluate = expert_training.evaluate_policy
    calls = []

    def evaluate_then_press_ctrl_c(*args, **kwargs):
        calls.append(1)
        result = real_evaluate(*args, **kwargs)
        if len(calls) == 2:  # the evaluation at 400 env steps
            signal.raise_signal(signum)
        return result

    monkeypatch.setattr(expert_training, "evaluate_policy", evaluate_then_press_ctrl_c)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    argv = ["expert", "train", "--task", "hopper", "--steps", "600", "--out", str(run)]
    settings = tiny_settings(eval_every=200, checkpoint_every=10_000)
    assert main([*argv, *settings, "--quiet"]) == 130
    err = capsys.readouterr().err.strip()
    assert err == (
        "diffil: error: interrupted at 400 env steps; checkpoint saved; "
        f"resume with: diffil expert train --resume {run}"
    )
    # Ctrl-C and kill behave as before afterwards
    assert {s: signal.getsignal(s) for s in handlers} == handlers
    state = checkpoint_state(run)
    assert state["env_steps"] == 400 and state["buffer_size"] == 400
    assert [int(r["env_steps"]) for r in read_metrics(run)] == [200, 400]
    assert not (run / "policy.pt").exists()
    saved = load_from_pkl(run / "checkpoints" / "latest" / "replay_buffer.pkl")
    assert saved.size() == 400

    # a later save killed between its two renames: only .previous and a staging folder are left
    checkpoints = run / "checkpoints"
    (checkpoints / "latest").rename(checkpoints / ".previous")
    (checkpoints / ".staging-killed").mkdir()
    (checkpoints / ".staging-killed" / "replay_buffer.pkl").write_bytes(b"half")
    # a row logged after the checkpoint (a session killed later) must not survive the resume
    with (run / "metrics.csv").open("a") as f:
        f.write("500" + "," * (len(read_metrics(run)[0]) - 1) + "\n")
    monkeypatch.setattr(expert_training, "evaluate_policy", real_evaluate)
    result = diffil.train_expert(resume=run, progress=True)
    assert f"resuming {run} from 400 env steps, replay buffer 400 transitions" in (
        capsys.readouterr().out.replace("\n", " ")
    )
    assert result.env_steps == 600
    rows = read_metrics(run)
    assert [int(r["env_steps"]) for r in rows] == [200, 400, 600]
    times = [float(r["time_s"]) for r in rows]
    assert times == sorted(times)  # wall-clock carries over the interruption
    ckpt = run / "checkpoints" / "latest"
    assert checkpoint_state(run)["env_steps"] == 600
    assert sorted(p.name for p in checkpoints.iterdir()) == ["latest"]
    assert SAC.load(ckpt / "model.zip").num_timesteps == 600
    # the restored buffer continued: its first 400 transitions are the interrupted run's
    buffer = load_from_pkl(ckpt / "replay_buffer.pkl")
    assert buffer.size() == 600
    for name in ("observations", "next_observations", "actions", "rewards", "dones"):
        np.testing.assert_array_equal(getattr(buffer, name)[:400], getattr(saved, name)[:400])


def test_collect_with_expert_records_provenance(tiny_expert, tmp_path, capsys):
    out = tmp_path / "hopper.hdf5"
    argv = ["collect", "--task", "hopper", "--expert", str(tiny_expert), "--episodes", "2"]
    assert main([*argv, "--out", str(out)]) == 0
    dataset = diffil.load_dataset(out, task="hopper")
    best_file = tiny_expert / "best.pt"
    best = diffil.Policy.load(best_file)
    info = dataset.metadata["expert_info"]
    assert info["file"] == str(best_file) and info["algo"] == "sac" and info["role"] == "best"
    assert info["env_steps"] == best.metadata["env_steps"]
    assert info["eval_return_mean"] == pytest.approx(best.metadata["eval_return_mean"])
    assert info["sha256"] == hashlib.sha256(best_file.read_bytes()).hexdigest()
    assert dataset.metadata["expert"] == f"sac:{best_file}"
    assert len(dataset) == 2
    for traj in dataset:  # the demonstrations are the expert's deterministic actions
        np.testing.assert_allclose(traj.actions, best.predict(traj.observations[:-1]), atol=1e-6)
    # the Python API, with the final policy file
    final = diffil.collect("hopper", episodes=1, expert=tiny_expert / "policy.pt")
    assert final.metadata["expert_info"]["role"] == "final"
    assert final.metadata["expert_info"]["env_steps"] == 600


def test_expert_eval_reports_return(tiny_expert, capsys):
    assert main(["expert", "eval", str(tiny_expert), "--episodes", "2"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"hopper ({tiny_expert / 'best.pt'}, sac, " in out
    assert "return" in out and "(2 episodes)" in out


def test_td3_and_ppo_policies_match_their_actors(tmp_path):
    obs = observations(32)
    td3 = diffil.train_expert(
        "hopper",
        algo="td3",
        out=tmp_path / "td3",
        overrides={**TINY, "steps": 300, "eval_every": 300},
        progress=False,
    )
    model = TD3.load(td3.run_dir / "checkpoints" / "latest" / "model.zip")
    expected, _ = model.predict(obs.astype(np.float32), deterministic=True)
    td3_policy = diffil.Policy.load(td3.policy_path)
    np.testing.assert_allclose(td3_policy.predict(obs), expected, atol=1e-5)
    assert td3_policy.kind == "td3"

    ppo = diffil.train_expert(
        "hopper",
        algo="ppo",
        steps=128,
        out=tmp_path / "ppo",
        overrides={"eval_every": 128, "eval_episodes": 1, "ppo": {"n_steps": 128}},
        progress=False,
    )
    ckpt = ppo.run_dir / "checkpoints" / "latest"
    assert not (ckpt / "replay_buffer.pkl").exists()
    model = PPO.load(ckpt / "model.zip")
    raw = make_vec_env(diffil.get_task("hopper"), 1, 0)
    venv = VecNormalize.load(str(ckpt / "vecnormalize.pkl"), raw)
    expected, _ = model.predict(venv.normalize_obs(obs), deterministic=True)
    np.testing.assert_allclose(
        diffil.Policy.load(ppo.policy_path).predict(obs), expected, atol=1e-5
    )


def test_bad_input_is_one_line(tiny_expert, tmp_path, capsys):
    imitation = tmp_path / "imitation"
    imitation.mkdir()
    (imitation / "config.yaml").write_text("method: drail\ntask: hopper\n")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a policy")
    empty = tmp_path / "empty"
    empty.mkdir()
    data = ["--episodes", "1", "--out", str(tmp_path / "d.hdf5")]
    cases = [
        (["collect", "--task", "hopper", *data], "diffil expert train --task hopper"),
        (["collect", "--task", "hopper", *data], "--expert FILE"),
        (["collect", "-t", "hopper", "--expert", str(tmp_path / "no.pt"), *data], "no such"),
        (["collect", "-t", "hopper", "--expert", str(corrupt), *data], "not a readable policy"),
        (["collect", "-t", "walker2d", "--expert", str(tiny_expert), *data], "trained on 'hopper'"),
        (["expert", "train", "--task", "hopperr"], "unknown task 'hopperr'"),
        (["expert", "train", "--task", "hopper", "--algo", "dqn"], "unknown expert algo"),
        (["expert", "train", "--task", "hopper", "--set", "lr=1"], "unknown expert config key"),
        (["expert", "train", "--task", "hopper", "--set", "tau=2"], "tau and gamma"),
        (["expert", "train", "--resume", str(imitation)], "not an expert run"),
        (["expert", "train", "--resume", str(empty)], "not an expert run directory"),
        (["expert", "train", "--resume", str(tmp_path / "gone")], "no such expert run"),
        (["expert", "train", "--resume", str(tiny_expert), "--task", "hopper"], "own config"),
        (["expert", "train", "--task", "hopper", "--out", str(tiny_expert)], "already exists"),
        (["expert", "train"], "needs --task"),
        (["expert", "eval", str(tmp_path / "nothing")], "no such expert"),
    ]
    for argv, expected in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("diffil: error:") and err.count("\n") == 1, err
        assert expected in err and "Traceback" not in err, (argv, err)
    assert not (tmp_path / "d.hdf5").exists()
    assert sorted(p.name for p in tiny_expert.iterdir()) == sorted(
        ["best.pt", "checkpoints", "config.yaml", "eval.json", "metrics.csv", "policy.pt", "tb"]
    )


def test_an_expert_run_without_policy_is_not_an_expert_yet(tmp_path, capsys):
    run = tmp_path / "young"
    run.mkdir()
    config = rl_expert.resolve_expert_config("hopper", "sac", {"steps": 100})
    (run / "config.yaml").write_text(config.to_yaml())
    argv = ["collect", "-t", "hopper", "--expert", str(run), "--episodes", "1"]
    assert main([*argv, "--out", str(tmp_path / "d.npz")]) == 2
    err = capsys.readouterr().err
    assert "has no policy yet" in err and f"diffil expert train --resume {run}" in err

"""Off-policy imitation (SAC), the SMILING reward and learning from observations."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from diffil.algorithms.config import read_run_config, resolve_config
from diffil.algorithms.offpolicy import OffPolicyTrainer
from diffil.algorithms.run import train, trainer_for
from diffil.cli import main
from diffil.policy import Policy
from diffil.rewards import SmilingConfig, SmilingRewardModel, TransitionBatch, make_reward_model
from diffil.rl import silence_sb3_logger
from diffil.runs.run_dir import RunDirectory

torch.set_num_threads(1)

TINY = {
    "num_demos": 10,
    "checkpoint_every": 300,
    "sac": {"net_arch": [32, 32], "learning_starts": 200, "batch_size": 64, "buffer_size": 5000},
    "reward": {
        "updates_per_rollout": 2,
        "batch_size": 64,
        "update_every": 100,
        "model": {"hidden": [32, 32]},
    },
    "eval": {"every": 300, "episodes": 2, "final_episodes": 2},
}
TINY_SET = [
    "num_demos=10",
    "checkpoint_every=300",
    "sac.net_arch=[32,32]",
    "sac.learning_starts=200",
    "sac.batch_size=64",
    "sac.buffer_size=5000",
    "reward.updates_per_rollout=2",
    "reward.batch_size=64",
    "reward.update_every=100",
    "reward.model.hidden=[32,32]",
    "eval.every=300",
    "eval.episodes=2",
    "eval.final_episodes=2",
]
METHODS = ["drail", "diffail", "gail", "airl", "wail", "smiling"]


def rows(run_dir):
    with open(run_dir / "metrics.csv") as f:
        return list(csv.DictReader(f))


def make_trainer(tmp_path, method: str, steps: int = 150, **fields) -> OffPolicyTrainer:
    """A SAC trainer whose replay buffer holds ``steps`` random-action transitions."""
    overrides = {**TINY, "sac": {**TINY["sac"], "learning_starts": 10_000}, **fields}
    config = resolve_config(method, "pointmaze-umaze", {**overrides, "rl": "sac"})
    trainer = trainer_for(
        config, RunDirectory.create(tmp_path / "run", config.to_yaml()), progress=False
    )
    assert isinstance(trainer, OffPolicyTrainer)
    silence_sb3_logger(trainer.model)  # no SB3-<date> folder in /tmp
    trainer.model.learn(total_timesteps=steps)  # learning_starts > steps: only collection
    return trainer


def test_replay_rewards_are_recomputed_by_the_current_reward_model(tmp_path):
    trainer = make_trainer(tmp_path, "gail")
    buffer, venv = trainer.buffer, trainer.venv
    assert buffer.pos >= 64

    def sample_and_expected():
        np.random.seed(123)  # SB3 draws the indices with np.random: same seed, same rows
        samples = buffer.sample(64, env=venv)
        np.random.seed(123)
        inds = np.random.randint(0, buffer.pos, size=64)
        envs = np.random.randint(0, buffer.n_envs, size=64)
        batch = trainer.batch(
            buffer.observations[inds, envs],
            buffer.actions[inds, envs],
            buffer.next_observations[inds, envs],
            buffer.dones[inds, envs] * (1 - buffer.timeouts[inds, envs]),
        )
        expected = trainer.reward_model.reward(batch).numpy()
        return samples.rewards.numpy().ravel(), expected, buffer.rewards[inds, envs]

    before, expected_before, env_rewards = sample_and_expected()
    np.testing.assert_allclose(before, expected_before, rtol=1e-5, atol=1e-6)
    assert not np.allclose(before, env_rewards)  # the stored env rewards are not used
    with torch.no_grad():
        for p in trainer.reward_model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    after, expected_after, _ = sample_and_expected()
    np.testing.assert_allclose(after, expected_after, rtol=1e-5, atol=1e-6)
    assert np.abs(after - before).max() > 1e-3


def test_reward_model_learns_from_the_last_recent_steps(tmp_path, monkeypatch):
    reward = {**TINY["reward"], "recent": 300}  # update_every 100
    trainer = make_trainer(tmp_path, "gail", steps=400, reward=reward)
    seen = {}

    def update(agent):
        seen["update"] = agent.obs
        return {}

    def relabel(obs, acts, next_obs, dones):
        seen["relabel"] = obs
        return np.zeros(len(obs))

    monkeypatch.setattr(trainer, "update_reward_model", update)
    monkeypatch.setattr(trainer, "relabel", relabel)
    trainer.reward_step()
    newest = trainer.buffer.observations[trainer.buffer.pos - 300 : trainer.buffer.pos, 0]
    np.testing.assert_array_equal(seen["update"], newest)  # trained on the last 300 steps
    np.testing.assert_array_equal(seen["relabel"], newest[-100:])  # logged: the last 100


def test_smiling_rewards_expert_states_above_shifted_states():
    gen = torch.Generator().manual_seed(0)
    expert = lambda n: TransitionBatch(torch.randn(n, 2, generator=gen))  # noqa: E731
    shifted = lambda n: TransitionBatch(torch.randn(n, 2, generator=gen) + 2.0)  # noqa: E731
    config = SmilingConfig(
        inputs="state", hidden=(64, 64), expert_pretrain_steps=300, normalize=False, lr=3e-3
    )
    torch.manual_seed(0)
    model = SmilingRewardModel(2, 1, config)
    assert model.pretrain(lambda: expert(128))["expert_loss"] < 1.0
    for _ in range(300):  # the learner only ever sees shifted states
        metrics = model.update(expert(128), shifted(128))
    assert metrics["expert_reward"] > metrics["agent_reward"]
    r_expert = model.reward(expert(512), generator=1).mean()
    r_shifted = model.reward(shifted(512), generator=1).mean()
    assert r_expert > r_shifted + 0.1
    normalized = SmilingRewardModel(2, 1, SmilingConfig(inputs="state", hidden=(64, 64)))
    normalized.load_state_dict(model.state_dict())
    both = normalized.reward(TransitionBatch(torch.cat([expert(256).obs, shifted(256).obs])))
    assert abs(float(both.mean())) < 1e-4 and abs(float(both.std(unbiased=False)) - 1) < 1e-3
    assert both[:256].mean() > both[256:].mean()


@pytest.mark.parametrize("name", METHODS)
def test_obs_only_reward_models_never_read_actions(name):
    torch.manual_seed(0)
    model = make_reward_model(name, 3, 2, {"obs_only": True, "hidden": (16, 16)})
    obs, next_obs = torch.randn(32, 3), torch.randn(32, 3)
    real = TransitionBatch(obs, torch.randn(32, 2), next_obs, torch.zeros(32), torch.randn(32))
    nan = TransitionBatch(obs, torch.full((32, 2), torch.nan), next_obs, torch.zeros(32))
    nan = TransitionBatch(nan.obs, nan.act, nan.next_obs, nan.done, torch.full((32,), torch.nan))
    r_real = model.reward(real, generator=7)
    r_nan = model.reward(nan, generator=7)
    assert torch.isfinite(r_nan).all()
    torch.testing.assert_close(r_nan, r_real)
    model.update(nan, nan)
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("name", ["airl", "smiling"])
def test_obs_only_trainer_never_passes_actions(tmp_path, name):
    reward = {**TINY["reward"], "model": {"hidden": [16, 16], "expert_pretrain_steps": 5}}
    if name == "airl":
        reward["model"] = {"hidden": [16, 16]}
    trainer = make_trainer(tmp_path, name, steps=100, obs_only=True, reward=reward)
    buffer = trainer.buffer
    obs, acts, next_obs, dones, _ = buffer.last(64)
    batch = trainer.batch(obs, np.full_like(acts, np.nan), next_obs, dones)
    assert batch.act is None and batch.log_prob is None
    torch.manual_seed(0)
    r_nan = trainer.relabel(obs, np.full_like(acts, np.nan), next_obs, dones)
    torch.manual_seed(0)
    r_real = trainer.relabel(obs, acts, next_obs, dones)
    assert np.isfinite(r_nan).all()
    np.testing.assert_allclose(r_nan, r_real, rtol=1e-5, atol=1e-6)
    buffer.actions[:] = np.nan  # a whole reward step with unreadable actions
    row = trainer.reward_step()
    assert np.isfinite(row["reward_mean"])


def test_airl_on_sac_uses_the_actor_log_prob(tmp_path):
    trainer = make_trainer(tmp_path, "airl", steps=100)
    obs, acts, next_obs, dones, _ = trainer.buffer.last(32)
    batch = trainer.batch(obs, acts, next_obs, dones)
    assert batch.log_prob is not None and torch.isfinite(batch.log_prob).all()
    # log pi(a|s) of actions the actor itself draws, as SB3 reports it when drawing them
    actor, policy = trainer.model.actor, trainer.model.policy
    with torch.no_grad():
        norm = torch.as_tensor(trainer.venv.normalize_obs(obs), dtype=torch.float32)
        squashed, expected = actor.action_log_prob(norm)
    drawn = trainer.batch(obs, policy.unscale_action(squashed.numpy()), next_obs, dones)
    assert drawn.log_prob is not None
    np.testing.assert_allclose(drawn.log_prob.numpy(), expected.numpy(), rtol=1e-4, atol=1e-3)
    assert not np.allclose(batch.log_prob.numpy(), expected.numpy(), atol=0.1)


def test_sac_run_writes_a_complete_run_directory_and_resumes(tmp_path, monkeypatch, capsys):
    out = tmp_path / "run"
    original = OffPolicyTrainer.reward_step
    calls = {"n": 0}

    def interrupt_on_fourth(self):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(OffPolicyTrainer, "reward_step", interrupt_on_fourth)
    args = ["train", "drail", "--rl", "sac", "--task", "pointmaze-umaze", "--steps", "600"]
    settings = [item for s in TINY_SET for item in ("--set", s)]
    code = main([*args, "--out", str(out), "--quiet", *settings])
    assert code == 130
    assert "resume with: diffil train --resume" in capsys.readouterr().err
    ckpt = out / "checkpoints" / "latest"
    for name in ("sac.zip", "replay_buffer.pkl", "reward_model.pt", "vecnormalize.pkl"):
        assert (ckpt / name).exists(), name
    assert json.loads((ckpt / "state.json").read_text())["env_steps"] == 400
    run = RunDirectory.open(out)
    assert read_run_config(run).rl == "sac"
    resumed = trainer_for(read_run_config(run), run, progress=False)
    assert resumed.model.num_timesteps == 400 and resumed.buffer.pos >= 399
    assert resumed.buffer.relabel is not None  # re-attached after loading
    monkeypatch.setattr(OffPolicyTrainer, "reward_step", original)
    assert main(["train", "--resume", str(out), "--quiet"]) == 0
    for name in ("config.yaml", "metrics.csv", "policy.pt", "eval.json", "demos.hdf5"):
        assert (out / name).exists(), name
    logged = rows(out)
    assert [int(r["env_steps"]) for r in logged] == [100, 200, 300, 400, 500, 600]
    assert logged[-1]["eval_success"] != "" and "reward_model.expert_acc" in logged[0]
    assert json.loads((out / "eval.json").read_text())["env_steps"] == 600
    policy = Policy.load(out / "policy.pt")
    assert policy.kind == "sac" and policy.predict(np.zeros(6)).shape == (2,)


def test_smiling_runs_end_to_end_on_sac_by_default(tmp_path):
    out = tmp_path / "smiling"
    reward = {**TINY["reward"], "model": {"hidden": [32, 32], "expert_pretrain_steps": 100}}
    result = train(
        "smiling",
        "pointmaze-umaze",
        steps=300,
        out=out,
        overrides={**TINY, "reward": reward},
        progress=False,
    )
    assert result.env_steps == 300
    assert read_run_config(out).rl == "sac"
    logged = rows(out)
    assert len(logged) == 3 and float(logged[-1]["reward_model.learner_loss"]) > 0
    assert (out / "checkpoints" / "latest" / "replay_buffer.pkl").exists()


def test_smiling_on_ppo_learns_from_observations_via_the_cli(tmp_path):
    out = tmp_path / "smiling-ppo"
    args = ["train", "smiling", "--rl", "ppo", "--obs-only", "--task", "pointmaze-umaze"]
    settings = [
        "n_envs=2",
        "num_demos=10",
        "ppo.n_steps=64",
        "ppo.batch_size=64",
        "ppo.n_epochs=2",
        "ppo.net_arch=[16,16]",
        "reward.updates_per_rollout=2",
        "reward.batch_size=64",
        "reward.model.hidden=[16,16]",
        "reward.model.expert_pretrain_steps=20",
        "eval.episodes=2",
        "eval.final_episodes=2",
    ]
    sets = [item for s in settings for item in ("--set", s)]
    assert main([*args, "--steps", "256", "--out", str(out), "--quiet", *sets]) == 0
    config = read_run_config(out)
    assert config.rl == "ppo" and config.obs_only
    assert [int(r["env_steps"]) for r in rows(out)] == [128, 256]
    assert (out / "checkpoints" / "latest" / "ppo.zip").exists()


def test_bad_rl_is_a_one_line_error(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "drail", "--task", "pointmaze-umaze", "--rl", "foo", "--out", str(out)]
    code = main(args)
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("diffil: error: unknown RL algorithm 'foo'; use one of: ppo, sac")
    assert not out.exists()

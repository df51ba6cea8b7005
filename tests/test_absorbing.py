"""Absorbing states (reward.absorbing): rows, scaling, the terminal bonus, and runs with them."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from diffil.algorithms.offpolicy import OffPolicyTrainer
from diffil.algorithms.reward_transfer import load_learned_reward
from diffil.algorithms.run import train
from diffil.algorithms.trainer import OnlineTrainer
from diffil.cli import main
from diffil.data.trajectory import Transitions
from diffil.rewards import TransitionBatch, make_reward_model
from diffil.rewards.absorbing import terminal_bonus, with_absorbing_rows
from diffil.rewards.normalization import ObservationScaler, scale_obs

# hopper falls within a few dozen steps under a fresh policy: terminations in every rollout
TASK = "hopper"
TINY = {
    "rl": "ppo",
    "n_envs": 2,
    "num_demos": 2,
    "checkpoint_every": 512,
    "ppo": {
        "n_steps": 64,
        "batch_size": 64,
        "n_epochs": 1,
        "net_arch": [16, 16],
        "normalize_reward": False,
    },
    "sac": {"n_envs": 1, "learning_starts": 64, "batch_size": 32, "net_arch": [16, 16]},
    "reward": {
        "absorbing": True,
        "updates_per_rollout": 2,
        "update_every": 64,
        "batch_size": 64,
        "model": {"hidden": [32, 32]},
    },
    "eval": {"every": 10**9, "episodes": 1, "final_episodes": 1},
}


def _transitions(n: int, ends: list[int], seed: int = 0) -> Transitions:
    rng = np.random.default_rng(seed)
    dones = np.zeros(n)
    dones[ends] = 1.0
    obs = rng.normal(size=(n, 3)).astype(np.float32)
    acts = rng.uniform(-1, 1, size=(n, 2)).astype(np.float32)
    return Transitions(obs, acts, obs + 0.1, dones)


def test_one_absorbing_row_follows_each_termination():
    data = _transitions(10, [3, 9])
    out = with_absorbing_rows(data)
    assert len(out) == 12
    assert out.absorbing.tolist() == [False] * 10 + [True, True]
    np.testing.assert_array_equal(out.obs[:10], data.obs)
    assert not out.acts[10:].any() and not out.dones[10:].any()  # s_a loops: it ends nothing
    part = out.sample(50, np.random.default_rng(0))
    assert part.absorbing is not None and part.absorbing.dtype == bool
    np.testing.assert_array_equal(part.absorbing, ~part.obs.any(axis=1))
    assert len(with_absorbing_rows(_transitions(5, []))) == 5


def test_copies_repeat_each_absorbing_row():
    out = with_absorbing_rows(_transitions(10, [3, 9]), copies=3)
    assert len(out) == 16 and out.absorbing.sum() == 6
    with pytest.raises(ValueError, match="copies"):
        with_absorbing_rows(_transitions(10, [3]), copies=0)


def test_the_scaler_marks_absorbing_rows_in_a_column_of_their_own():
    obs = np.random.default_rng(1).normal(3.0, 2.0, size=(100, 3)).astype(np.float32)
    scaler = ObservationScaler.fit(obs, absorbing=True)
    assert scaler.width == 4
    rows = np.array([False, True, False])
    scaled = scaler(obs[:3], rows)
    assert scaled.shape == (3, 4)
    assert scaled[:, 3].tolist() == [0.0, 1.0, 0.0]
    assert not scaled[1, :3].any()  # the absorbing state has no features
    np.testing.assert_allclose(scaled[0, :3], (obs[0] - obs.mean(0)) / obs.std(0), rtol=1e-5)
    # a run's recorded scaler reads real states back with the column at 0, whatever the shape
    saved = json.loads(json.dumps(scaler.to_dict()))
    assert saved["absorbing"] is True
    np.testing.assert_array_equal(scale_obs(saved, obs[:3]), scaler(obs[:3]))
    assert scale_obs(saved, obs.reshape(10, 10, 3)).shape == (10, 10, 4)
    plain = ObservationScaler.fit(obs)
    assert plain.width == 3 and "absorbing" not in plain.to_dict()
    with pytest.raises(ValueError, match="absorbing"):
        plain(obs[:3], rows)


def test_the_terminal_bonus_is_bootstrapping_through_the_absorbing_state():
    gamma, r_abs = 0.99, -0.7
    rewards = [0.3, -0.2, 0.5]  # the last step terminates
    with_bonus = [*rewards[:-1], rewards[-1] + terminal_bonus(r_abs, gamma)]
    closed = sum(gamma**t * r for t, r in enumerate(with_bonus))
    # the same episode continued in s_a for (nearly) ever
    chain = [*rewards, *([r_abs] * 5000)]
    unrolled = sum(gamma**t * r for t, r in enumerate(chain))
    assert closed == pytest.approx(unrolled, abs=1e-6)


def _absorbing_reward_gap(expert_ends: float, agent_ends: float, copies: int, updates: int):
    """r(s_a) minus the mean reward of the agent's real states, of a GAIL discriminator trained
    on the same states with different ending rates (only s_a tells the sides apart)."""
    rng = np.random.default_rng(0)
    torch.manual_seed(0)  # the network's initial weights

    def data(rate: float) -> Transitions:
        n = 4000
        ends = np.flatnonzero(rng.random(n) < rate).tolist()
        return with_absorbing_rows(_transitions(n, ends, int(rng.integers(1 << 30))), copies)

    expert, agent = data(expert_ends), data(agent_ends)
    scaler = ObservationScaler.fit(expert.obs[~expert.absorbing], absorbing=True)
    model = make_reward_model("gail", scaler.width, 2, {"hidden": (32, 32), "lr": 1e-3})

    def batch(d: Transitions) -> TransitionBatch:
        return TransitionBatch.from_numpy(
            scaler(d.obs, d.absorbing), d.acts, scaler(d.next_obs, d.absorbing), d.dones
        )

    for _ in range(updates):
        model.update(batch(expert.sample(256, rng)), batch(agent.sample(256, rng)))
    real = ~agent.absorbing
    r_states = float(
        model.reward(
            batch(
                Transitions(
                    *(a[real] for a in (agent.obs, agent.acts, agent.next_obs, agent.dones))
                )
            )
        ).mean()
    )
    abs_rows = Transitions(
        np.zeros((4, 3)),
        np.zeros((4, 2)),
        np.zeros((4, 3)),
        np.zeros(4),
        absorbing=np.ones(4, dtype=bool),
    )
    return float(model.reward(batch(abs_rows)).mean()) - r_states


@pytest.mark.parametrize("expert_ends, agent_ends", [(0.01, 0.25), (0.25, 0.01)])
def test_the_discriminator_learns_whether_ending_is_expert_like(expert_ends, agent_ends):
    """Its reward says which side ends more often."""
    gap = _absorbing_reward_gap(expert_ends, agent_ends, copies=1, updates=400)
    if expert_ends < agent_ends:
        assert gap < -0.5  # the agent ends far more often: ending is unlike the expert
    else:
        assert gap > 0.5


@pytest.mark.parametrize("expert_ends, agent_ends", [(0.006, 0.002), (0.002, 0.006)])
def test_copies_teach_a_rare_absorbing_state_sooner(expert_ends, agent_ends):
    """Episodes of a few hundred steps: one row per ending leaves r(s_a) near the real states'
    after 200 updates; 100 copies learn most of log(3) ~ 1.1 with the right sign."""
    sign = 1.0 if expert_ends > agent_ends else -1.0
    assert abs(_absorbing_reward_gap(expert_ends, agent_ends, copies=1, updates=200)) < 0.3
    assert sign * _absorbing_reward_gap(expert_ends, agent_ends, copies=100, updates=200) > 0.6


def _rows(run_dir):
    with open(run_dir / "metrics.csv") as f:
        return list(csv.DictReader(f))


def _record_ppo_rewards(monkeypatch) -> list:
    """Each PPO rollout's (rewards given, the reward model's plain rewards, terminations,
    r(absorbing), gamma), recorded while the test's runs train."""
    seen = []
    original = OnlineTrainer.reward_step

    def spy(self, buffer, recorder, last_values, dones):
        taken = {}
        take = recorder.take
        recorder.take = lambda n: taken.setdefault("steps", take(n))
        before = buffer.rewards.copy()
        try:
            out = original(self, buffer, recorder, last_values, dones)
        finally:
            del recorder.take
        steps = taken["steps"]
        obs, acts, nxt, term = steps.flat()
        plain = self.reward_model.reward(self.batch(obs, acts, nxt, term)).numpy()
        given = (buffer.rewards - before + steps.env_rewards).reshape(-1)
        seen.append((given, plain, term, out["reward_absorbing"], self.config.ppo.gamma))
        return out

    monkeypatch.setattr(OnlineTrainer, "reward_step", spy)
    return seen


def _assert_terminal_steps_bootstrap_through_absorbing_state(seen: list) -> None:
    ends = 0
    for given, plain, term, r_abs, gamma in seen:
        ends += int(term.sum())
        # GAIL's reward is deterministic, so the rewards can be recomputed exactly
        np.testing.assert_allclose(given, plain + term * gamma * r_abs / (1 - gamma), atol=1e-4)
    assert ends > 0  # the fresh hopper fell: terminal steps were checked


def test_ppo_terminal_steps_get_the_absorbing_states_value(tmp_path, monkeypatch):
    seen = _record_ppo_rewards(monkeypatch)
    out = tmp_path / "gail"
    train("gail", TASK, steps=256, out=out, overrides=TINY, progress=False)
    assert len(seen) == 2
    _assert_terminal_steps_bootstrap_through_absorbing_state(seen)
    state = json.loads((out / "checkpoints" / "latest" / "state.json").read_text())
    assert state["scaler"]["absorbing"] is True and len(state["scaler"]["mean"]) == 11
    assert _rows(out)[-1]["reward_absorbing"] != ""
    # the learned reward reads real states as they come (the column is added for them)
    learned = load_learned_reward(out)
    obs = np.zeros((5, 11), dtype=np.float32)
    assert np.isfinite(learned.rewards(obs, np.zeros((5, 3)), obs)).all()
    # and a resumed run picks the scaler back up with its column
    assert train(resume=out, steps=384, progress=False).env_steps == 384


def test_a_fresh_learner_on_a_frozen_absorbing_reward_gets_its_terminal_bonus(
    tmp_path, monkeypatch
):
    source = tmp_path / "gail"
    train("gail", TASK, steps=128, out=source, overrides=TINY, progress=False)
    obs, acts = np.zeros((1, 11), dtype=np.float32), np.zeros((1, 3), dtype=np.float32)
    before = load_learned_reward(source).rewards(obs, acts, obs)
    seen = _record_ppo_rewards(monkeypatch)
    out = tmp_path / "ppo"
    train("ppo", TASK, reward=source, steps=256, out=out, overrides=TINY, progress=False)
    assert len(seen) == 2
    # the bonus is the frozen model's r(absorbing), the same in every rollout
    assert seen[0][3] == pytest.approx(seen[1][3]) and seen[0][3] != 0.0
    _assert_terminal_steps_bootstrap_through_absorbing_state(seen)
    after = load_learned_reward(source).rewards(obs, acts, obs)
    np.testing.assert_array_equal(before, after)


def test_sac_terminal_rewards_bootstrap_through_the_absorbing_state(tmp_path, monkeypatch):
    trainers = []
    original = OffPolicyTrainer.reward_step

    def spy(self):
        trainers.append(self)
        return original(self)

    monkeypatch.setattr(OffPolicyTrainer, "reward_step", spy)
    overrides = {**TINY, "rl": "sac"}
    train("gail", TASK, steps=256, out=tmp_path / "sac", overrides=overrides, progress=False)
    assert _rows(tmp_path / "sac")[-1]["reward_absorbing"] != ""
    trainer = trainers[-1]
    obs = np.zeros((2, 11), dtype=np.float32)
    acts = np.zeros((2, 3), dtype=np.float32)
    r = trainer.relabel(obs, acts, obs, np.array([0.0, 1.0]))
    gamma = trainer.config.sac.gamma
    expected = terminal_bonus(trainer.absorbing_reward(), gamma)
    assert r[1] - r[0] == pytest.approx(expected, rel=1e-4, abs=1e-4)
    assert expected != 0.0


def test_absorbing_states_with_fixed_horizon_are_a_one_line_error(capsys):
    args = ["train", "gail", "--task", TASK, "--set", "fixed_horizon=true"]
    code = main([*args, "--set", "reward.absorbing=true"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "choose one" in err[0], err


def test_absorbing_states_are_ignored_out_loud_by_methods_without_a_reward_model(tmp_path, capsys):
    """So that a family preset can set them for every method (BC included)."""
    overrides = {"num_demos": 2, "bc": {"steps": 20}, "reward": {"absorbing": True}}
    overrides["eval"] = {"episodes": 1, "final_episodes": 1}
    train("bc", TASK, out=tmp_path / "bc", overrides=overrides)
    assert "reward.absorbing has no effect on bc" in capsys.readouterr().out

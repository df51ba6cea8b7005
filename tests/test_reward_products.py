"""Learned rewards as products: the diffuser and diffuser-irl methods (run directory, resume,
eval, export, reward map), reward transfer (``train ppo|sac --reward RUN``) and ``reward-eval``.
Everything is tiny; the source runs are made once per module."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from diffil.algorithms import planning
from diffil.algorithms.reward_transfer import learned_reward, load_learned_reward
from diffil.algorithms.run import train
from diffil.algorithms.trainer import OnlineTrainer
from diffil.cli import main
from diffil.errors import TrainingInterrupted
from diffil.eval.reward_metrics import erc, task_reward
from diffil.experts.collect import maze_coverage
from diffil.planning import Diffuser, PlanReward
from diffil.rewards.drail import DrailRewardModel
from diffil.rl.sac import RelabelingReplayBuffer

TASK = "pointmaze-umaze"
TINY_PLANNER = {
    "num_demos": 2,
    "diffuser": {
        "explore_steps": 600,
        "piece": 60,
        "horizon": 8,
        "diffusion_steps": 3,
        "channels": [8, 16],
        "steps": 30,
        "batch_size": 16,
        "checkpoint_every": 10,
        "coverage_pieces": 5,
        "replan_every": 4,
    },
    "irl": {"K": 4, "epochs": 4, "batch_size": 16, "hidden": [16]},
    "eval": {"episodes": 1},
}
TINY_RL = {
    "n_envs": 2,
    "num_demos": 10,
    "checkpoint_every": 512,
    # raw rewards: the maze family scales PPO's by their return's std (tested elsewhere)
    "ppo": {
        "n_steps": 64,
        "batch_size": 64,
        "n_epochs": 2,
        "net_arch": [16, 16],
        "normalize_reward": False,
    },
    "sac": {"n_envs": 1, "learning_starts": 64, "batch_size": 32, "net_arch": [16, 16]},
    "reward": {"updates_per_rollout": 2, "batch_size": 64, "model": {"hidden": [32, 32]}},
    "eval": {"every": 10**9, "episodes": 1, "final_episodes": 1},
    "bc_warm_start": False,
}


def _no_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resume tests check what training leaves; the planner's evaluation is tested elsewhere."""
    result = {"episodes": 1.0, "return_mean": 0.0, "return_std": 0.0, "success_rate": 0.0}
    monkeypatch.setattr(planning, "evaluate_policy", lambda *a, **k: dict(result, success_se=0.0))


@pytest.fixture(scope="module")
def irl_run(tmp_path_factory):
    """A finished tiny diffuser-irl run (with a real planner evaluation)."""
    out = tmp_path_factory.mktemp("irl") / "run"
    train("diffuser-irl", TASK, out=out, overrides=TINY_PLANNER, progress=False)
    return out


@pytest.fixture(scope="module")
def airl_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("airl") / "run"
    train("airl", TASK, steps=128, out=out, overrides=TINY_RL, progress=False)
    return out


def _state(path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


def _interrupt_after(monkeypatch, owner, name: str, calls: int) -> None:
    """Make ``owner.name`` raise KeyboardInterrupt (as Ctrl-C or kill does) on call ``calls``."""
    original = getattr(owner, name)
    count = {"n": 0}

    def wrapped(*args, **kwargs):
        count["n"] += 1
        if count["n"] == calls:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapped)


def test_run_directory_holds_data_diffuser_reward_metrics_and_evaluation(irl_run):
    for name in ("exploration.hdf5", "diffuser.pt", "reward.pt", "demos.hdf5", "metrics.csv"):
        assert (irl_run / name).is_file(), name
    evaluation = (irl_run / "eval.json").read_text()
    assert '"success_rate"' in evaluation and '"erc"' in evaluation
    assert Diffuser.load(irl_run / "diffuser.pt").horizon == 8


def test_diffuser_irl_resumes_after_interruptions_as_if_never_stopped(
    irl_run, tmp_path, monkeypatch
):
    _no_evaluation(monkeypatch)
    out = tmp_path / "run"
    with monkeypatch.context() as patch:  # Ctrl-C in the Diffuser stage (step 15 of 30)
        _interrupt_after(patch, Diffuser, "loss", 15)
        with pytest.raises(TrainingInterrupted):
            train("diffuser-irl", TASK, out=out, overrides=TINY_PLANNER, progress=False)
    assert not (out / "diffuser.pt").exists()
    with monkeypatch.context() as patch:  # then in the IRL stage (epoch 3 of 4)
        import diffil.planning.irl as irl

        _interrupt_after(patch, irl, "irl_step", 3)
        with pytest.raises(TrainingInterrupted):
            train(resume=out, progress=False)
    assert (out / "diffuser.pt").is_file() and not (out / "reward.pt").exists()
    train(resume=out, progress=False)
    for name in ("diffuser.pt", "reward.pt"):  # the same weights as the uninterrupted run's
        resumed, reference = _state(out / name), _state(irl_run / name)
        assert all(torch.equal(resumed[k], reference[k]) for k in reference), name
    steps = [int(r.split(",")[0]) for r in (out / "metrics.csv").read_text().split()[1:]]
    assert steps == sorted(set(steps)) and steps[-1] == 30 + 4  # no row twice after resuming


def test_diffuser_run_resumes_and_has_no_reward(tmp_path, monkeypatch):
    _no_evaluation(monkeypatch)
    tiny = {**TINY_PLANNER, "diffuser": {**TINY_PLANNER["diffuser"], "steps": 20}}
    whole, out = tmp_path / "whole", tmp_path / "cut"
    train("diffuser", TASK, out=whole, overrides=tiny, progress=False)
    with monkeypatch.context() as patch:
        _interrupt_after(patch, Diffuser, "loss", 12)
        with pytest.raises(TrainingInterrupted):
            train("diffuser", TASK, out=out, overrides=tiny, progress=False)
    train(resume=out, progress=False)
    resumed, reference = _state(out / "diffuser.pt"), _state(whole / "diffuser.pt")
    assert all(torch.equal(resumed[k], reference[k]) for k in reference)
    assert not (out / "reward.pt").exists() and not (out / "demos.hdf5").exists()


def test_cli_evaluates_exports_and_draws_a_diffuser_irl_run(irl_run, capsys):
    assert main(["eval", str(irl_run), "--episodes", "1"]) == 0
    assert "re-planning planner" in capsys.readouterr().out
    assert main(["export", str(irl_run), "--format", "torchscript"]) == 0
    scripted = torch.jit.load(str(irl_run / "reward.ts.pt"))
    reward = PlanReward.load(irl_run / "reward.pt")
    obs, acts = torch.randn(5, 6), torch.randn(5, 2)
    expected = reward.reward_function()(obs.numpy(), acts.numpy(), obs.numpy())
    assert np.allclose(scripted(obs, acts).numpy(), expected, atol=1e-5)
    assert main(["reward-map", str(irl_run), "--resolution", "8"]) == 0
    assert (irl_run / "reward_map.png").stat().st_size > 0


def test_eval_of_a_planner_run_uses_the_variant_it_was_trained_on(tmp_path, monkeypatch):
    import diffil.eval.evaluate as evaluate_module

    _no_evaluation(monkeypatch)
    out = tmp_path / "run"
    train("diffuser", TASK, out=out, overrides={**TINY_PLANNER, "noise": 1.5}, progress=False)
    seen = []

    def spy(task, policy, episodes, **kwargs):
        seen.append(task.variant_settings["noise"])
        return {
            "episodes": 1.0,
            "return_mean": 0.0,
            "return_std": 0.0,
            "success_rate": 0.0,
            "success_se": 0.0,
        }

    monkeypatch.setattr(evaluate_module, "evaluate_policy", spy)
    assert main(["eval", str(out), "--episodes", "1"]) == 0
    assert main(["eval", str(out), "--episodes", "1", "--noise", "1"]) == 0
    assert seen == [1.5, 1.0]  # the run's noise unless --noise says otherwise


def test_methods_lists_diffuser_and_diffuser_irl(capsys):
    assert main(["methods"]) == 0
    names = capsys.readouterr().out
    assert re.search(r"\bdiffuser\b", names) and "diffuser-irl" in names


def _frozen_state(run) -> dict[str, torch.Tensor]:
    blob = torch.load(run / "checkpoints/latest/reward_model.pt", weights_only=True)
    return blob["model"]


def test_sac_on_a_frozen_diffuser_irl_reward_sees_its_output_and_never_changes_it(
    irl_run, tmp_path, monkeypatch
):
    before = {k: v.clone() for k, v in PlanReward.load(irl_run / "reward.pt").state_dict().items()}
    seen = []
    original = RelabelingReplayBuffer.sample_at

    def spy(self, batch_inds, env_indices, env=None):
        samples = original(self, batch_inds, env_indices, env)
        obs = self.observations[batch_inds, env_indices]
        acts = self.unscale_action(self.actions[batch_inds, env_indices])
        nxt = self.next_observations[batch_inds, env_indices]
        seen.append((obs, acts, nxt, samples.rewards.numpy().ravel()))
        return samples

    monkeypatch.setattr(RelabelingReplayBuffer, "sample_at", spy)
    out = tmp_path / "sac"
    train("sac", None, reward=irl_run, steps=160, out=out, overrides=TINY_RL, progress=False)
    assert seen  # SAC took gradient steps on relabelled samples
    frozen = learned_reward(irl_run)
    for obs, acts, nxt, rewards in seen:
        assert np.allclose(rewards, frozen(obs, acts, nxt), atol=1e-5)
    after = PlanReward.load(irl_run / "reward.pt").state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    saved = _frozen_state(out)  # the run's own copy: the same parameters
    assert all(torch.equal(saved[f"inner.plan_reward.{k}"], before[k]) for k in before)
    assert f"reward_source: {irl_run}" in (out / "config.yaml").read_text()


@pytest.mark.parametrize("reward_type", [None, "log_d"])
def test_ppo_on_a_frozen_airl_reward_sees_its_output_and_never_changes_it(
    airl_run, tmp_path, monkeypatch, reward_type
):
    source = _frozen_state(airl_run)
    seen = []
    original = OnlineTrainer.reward_step

    def spy(self, rollout_buffer, recorder, last_values, dones):
        before = rollout_buffer.rewards.copy()
        taken = {}
        take = recorder.take
        recorder.take = lambda n: taken.setdefault("steps", take(n))
        try:
            out = original(self, rollout_buffer, recorder, last_values, dones)
        finally:
            del recorder.take
        steps = taken["steps"]
        # the learner's reward replaced the environment's in the rollout
        seen.append((steps.flat(), rollout_buffer.rewards - before + steps.env_rewards))
        assert all(not p.requires_grad for p in self.reward_model.parameters())
        assert not self.reward_model.training
        return out

    monkeypatch.setattr(OnlineTrainer, "reward_step", spy)
    out = tmp_path / "ppo"
    form = {} if reward_type is None else {"reward": {"model": {"reward_type": reward_type}}}
    overrides = {**TINY_RL, **form}
    train("ppo", TASK, reward=airl_run, steps=256, out=out, overrides=overrides, progress=False)
    frozen = load_learned_reward(airl_run)
    assert len(seen) == 2
    for (obs, acts, nxt, ends), rewards in seen:  # AIRL: f = g + gamma (1 - done) h' - h
        f = frozen.rewards(obs, acts, nxt, ends)
        # log_d: log D = log sigmoid(f) <= 0, the same discriminator read in another form
        expected = f if reward_type is None else -np.logaddexp(0.0, -f)
        assert np.allclose(rewards.reshape(-1), expected, atol=1e-5)
    after = _frozen_state(airl_run)
    assert all(torch.equal(source[k], after[k]) for k in source)
    saved = _frozen_state(out)
    assert all(torch.equal(saved[f"inner.{k}"], source[k]) for k in source)


def test_shaped_drail_learns_against_log_pi_and_hands_on_f_alone(tmp_path, monkeypatch):
    """DRAIL with ``potential_shaping``: its imitation run's discriminator reads log pi(a|s) of
    the learner (AIRL's D = exp(f) / (exp(f) + pi)); a fresh learner on the frozen reward gets
    f = (L- - L+) + gamma h' - h, with no log pi of anyone."""
    seen: list[bool] = []
    original = DrailRewardModel.logits

    def spy(self, batch, *, generator=None):
        seen.append(batch.log_prob is not None)
        return original(self, batch, generator=generator)

    monkeypatch.setattr(DrailRewardModel, "logits", spy)
    model = {"hidden": [32, 32], "potential_shaping": True}
    shaped = {**TINY_RL, "reward": {**TINY_RL["reward"], "model": model}}
    source = tmp_path / "drail"
    train("drail", TASK, steps=128, out=source, overrides=shaped, progress=False)
    assert seen and all(seen)
    seen.clear()
    train(
        "ppo",
        TASK,
        reward=source,
        steps=128,
        out=tmp_path / "ppo",
        overrides=TINY_RL,
        progress=False,
    )
    assert seen and not any(seen)


def test_reward_eval_erc_equals_the_python_function(irl_run, capsys):
    assert main(["reward-eval", str(irl_run), "--pieces", "8", "--piece-steps", "60"]) == 0
    printed = float(re.search(r"ERC (\d\.\d+)", capsys.readouterr().out).group(1))
    coverage = maze_coverage(TASK, pieces=8, piece_steps=60, seed=0)
    expected = erc(load_learned_reward(irl_run).function(), task_reward(TASK), coverage)
    assert printed == pytest.approx(expected, abs=1e-4)


def test_bad_reward_runs_are_one_line_errors(irl_run, tmp_path, capsys, monkeypatch):
    _no_evaluation(monkeypatch)
    train("diffuser", TASK, out=tmp_path / "d", overrides=TINY_PLANNER, progress=False)
    cases = {
        "no such run directory": ["train", "ppo", "--reward", str(tmp_path / "missing")],
        "learns no reward": ["train", "ppo", "--reward", str(tmp_path / "d")],
        "not on 'pointmaze-medium'": [
            "train", "sac", "--reward", str(irl_run), "--task", "pointmaze-medium",
        ],
        "has no reward_type": [
            "train", "sac", "--reward", str(irl_run), "--set", "reward.model.reward_type=log_d",
        ],
        "not a diffil run directory": ["reward-eval", str(tmp_path)],
    }  # fmt: skip
    capsys.readouterr()
    for message, argv in cases.items():
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("diffil: error:") and "\n" not in err and message in err, err

"""Protocol variants change what they claim: noisy demonstrations are noisier, successful-only
collection keeps successes, coverage holds out cells, provenance and runs record the regime;
evaluations during training draw fresh start/goal pairs and the curve ends in the final one."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml

import diffil.algorithms.trainer as trainer_module
from diffil.algorithms.run import train
from diffil.cli import main
from diffil.data.collect import episode_starts, rollout
from diffil.envs.maze import MazeLayout, held_out_episodes
from diffil.envs.registry import get_task
from diffil.errors import DiffilError
from diffil.eval.evaluate import FINAL_EVAL_SEED, periodic_eval_seed
from diffil.experts import make_expert
from diffil.experts.collect import MAX_ATTEMPTS_PER_EPISODE, collect_demonstrations
from diffil.experts.noise import NoisyPolicy
from diffil.policy import Policy


def _deviation_from_expert(dataset, expert) -> float:
    """Mean |recorded action - noise-free expert action| on the dataset's own states."""
    moves = dataset.transitions()
    return float(np.abs(moves.acts - expert(moves.obs)).mean())


def test_noisy_demonstrations_deviate_more_from_the_expert_as_sigma_grows():
    task = get_task("pointmaze-umaze")
    expert = make_expert(task)  # the scripted expert is deterministic without noise
    deviation = {}
    for sigma in (0.0, 0.2, 0.5):
        demos = collect_demonstrations(task, 2, seed=1, action_noise=sigma)
        assert demos.metadata["action_noise"] == sigma
        acts = demos.transitions().acts
        assert acts.min() >= -1.0 and acts.max() <= 1.0  # clipped to the action bounds
        deviation[sigma] = _deviation_from_expert(demos, expert)
    assert deviation[0.0] < 1e-6
    # E|N(0, s^2)| = 0.8 s before clipping: about 0.16 and 0.4
    assert 0.1 < deviation[0.2] < deviation[0.5] and deviation[0.5] > 0.25
    again = collect_demonstrations(task, 2, seed=1, action_noise=0.5)
    other = collect_demonstrations(task, 2, seed=2, action_noise=0.5)
    assert _deviation_from_expert(again, expert) == deviation[0.5]  # seeded: reproducible
    assert not np.array_equal(again.transitions().acts[:50], other.transitions().acts[:50])


def test_action_noise_is_a_fraction_of_half_the_action_range():
    low, high = np.array([-2.0, 0.0]), np.array([2.0, 10.0])
    policy = NoisyPolicy(lambda obs: np.array([0.0, 5.0]), 0.1, low, high, seed=0)
    actions = np.stack([policy(np.zeros(3)) for _ in range(4000)])
    np.testing.assert_allclose(actions.std(axis=0), [0.2, 0.5], rtol=0.06)
    np.testing.assert_allclose(actions.mean(axis=0), [0.0, 5.0], atol=0.03)
    with pytest.raises(DiffilError, match="action noise must be >= 0"):
        NoisyPolicy(lambda obs: obs, -0.1, low, high)


class _IdleEveryOtherEpisode:
    """The maze expert in odd episodes; no action (so no success) in even ones."""

    name = "idle-every-other"

    def __init__(self, expert):
        self.expert = expert
        self.episode = 0

    def reset(self) -> None:
        self.episode += 1

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return self.expert(obs) if self.episode % 2 else np.zeros(2, dtype=np.float32)


def test_successful_only_keeps_successes_and_records_the_rejected_episodes():
    task = get_task("pointmaze-umaze")
    expert = _IdleEveryOtherEpisode(make_expert(task))
    demos = collect_demonstrations(task, 3, seed=0, expert=expert, successful_only=True)
    assert len(demos) == 3 and all(t.success for t in demos)
    meta = demos.metadata
    assert meta["successful_only"] is True and meta["attempts"] == 5 and meta["rejected"] == 2
    assert meta["success_rate"] == 1.0 and meta["expert"] == "idle-every-other"
    # without the filter the failures stay in the dataset
    kept_all = collect_demonstrations(task, 4, seed=0, expert=_IdleEveryOtherEpisode(expert))
    assert [t.success for t in kept_all] == [True, False, True, False]
    assert kept_all.metadata["rejected"] == 0 and kept_all.metadata["successful_only"] is False


def test_successful_only_gives_up_after_its_cap_and_needs_a_success_metric():
    idle = _IdleEveryOtherEpisode(lambda obs: np.zeros(2, dtype=np.float32))
    with pytest.raises(DiffilError) as err:
        collect_demonstrations("pointmaze-umaze", 1, expert=idle, successful_only=True)
    assert f"only 0 of {MAX_ATTEMPTS_PER_EPISODE} episodes succeeded" in str(err.value)
    assert "\n" not in str(err.value)
    with pytest.raises(DiffilError, match="needs a task with a success metric"):
        collect_demonstrations("gym:Pendulum-v1", 1, expert=np.zeros_like, successful_only=True)


def test_collect_cli_records_the_regime_and_coverage_holds_out_cells(tmp_path, capsys):
    out = tmp_path / "noisy.hdf5"
    args = ["collect", "--task", "pointmaze-medium", "--episodes", "4", "--out", str(out)]
    regime = ["--coverage", "0.5", "--noise", "0.5", "--action-noise", "0.5", "--successful-only"]
    assert main([*args, *regime]) == 0
    capsys.readouterr()
    assert main(["data", "info", str(out), "--json"]) == 0
    meta = json.loads(capsys.readouterr().out)["metadata"]
    assert meta["variant"] == {"noise": 0.5, "coverage": 0.5}
    assert meta["action_noise"] == 0.5 and meta["successful_only"] is True
    assert meta["attempts"] == 4 + meta["rejected"]
    assert main(["data", "info", str(out)]) == 0
    shown = capsys.readouterr().out
    for key in ("action_noise", "successful_only", "attempts", "rejected", "coverage"):
        assert key in shown
    # the demonstrations start and end in the covered half of the cells only
    import diffil

    demos = diffil.load_dataset(out)
    task = get_task("pointmaze-medium")
    layout = MazeLayout.from_env(task.make_env())
    covered = set(layout.coverage_cells(0.5))
    assert len(covered) < len(layout.free_cells)
    starts = {layout.xy_to_cell(t.observations[0, :2]) for t in demos}
    goals = {layout.xy_to_cell(t.observations[0, 4:6]) for t in demos}
    assert starts | goals <= covered
    # bad values are one-line errors
    assert main([*args[:-1], str(tmp_path / "x.hdf5"), "--action-noise", "-1"]) == 2
    assert "--action-noise" in capsys.readouterr().err
    code = main(["collect", "--task", "pointmaze-umaze", "--mode", "explore", "--steps", "10",
                 "--out", str(tmp_path / "e.hdf5"), "--successful-only"])  # fmt: skip
    assert code == 2 and "drop --successful-only" in capsys.readouterr().err


def test_periodic_evaluations_draw_fresh_start_goal_pairs():
    task = get_task("pointmaze-medium")
    env = task.make_env(evaluation=True)
    seeds = [FINAL_EVAL_SEED] + [periodic_eval_seed(s) for s in (128, 256, 384, 512)]
    assert len(set(seeds)) == len(seeds)
    pairs = [tuple(np.round(env.reset(seed=s)[0][[0, 1, 4, 5]], 3)) for s in seeds]
    assert len(set(pairs)) == len(pairs)


class _RandomBatchPolicy:
    """Uniform random actions for one observation or a batch (lockstep rollouts)."""

    acts_on_batches = True

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return self.rng.uniform(-1, 1, size=(*np.shape(obs)[:-1], 2))


@pytest.mark.parametrize("num_envs", [1, 2])
def test_episode_starts_replays_the_start_goal_pairs_an_evaluation_played(num_envs):
    """A finished run's eval.json keeps each episode's return, not its start/goal pair: the
    replayed resets give the pairs back, whatever the policy did, in rollout's order."""
    task = get_task("pointmaze-medium", coverage=0.25)
    played = rollout(task, _RandomBatchPolicy(0), 5, seed=7, evaluation=True, num_envs=num_envs)
    replayed = episode_starts(task, 5, seed=7, evaluation=True, num_envs=num_envs)
    np.testing.assert_array_equal(np.stack(replayed), np.stack([t.observations[0] for t in played]))
    # evaluation draws every cell; training episodes only the covered ones
    assert held_out_episodes(task, np.stack(episode_starts(task, 40, 0, evaluation=True))).any()
    assert not held_out_episodes(task, np.stack(episode_starts(task, 40, 0))).any()
    assert not held_out_episodes(get_task("pointmaze-medium"), np.stack(replayed)).any()
    with pytest.raises(DiffilError, match="not a maze task"):
        held_out_episodes(get_task("hopper"), np.zeros((1, 11)))


TINY = {
    "n_envs": 2,
    "num_demos": 3,
    "checkpoint_every": 256,
    "ppo": {"n_steps": 64, "batch_size": 64, "n_epochs": 1, "net_arch": [16, 16]},
    "reward": {"updates_per_rollout": 1, "batch_size": 32, "model": {"hidden": [16, 16]}},
    "eval": {"every": 128, "episodes": 1, "final_episodes": 3},
}


def test_curve_ends_in_the_final_evaluation_and_runs_record_their_demos(tmp_path, monkeypatch):
    calls: list[tuple[int, int]] = []
    real = trainer_module.evaluate_policy

    def spy(task, policy, episodes, seed=FINAL_EVAL_SEED, **kwargs):
        calls.append((episodes, seed))
        return real(task, policy, episodes, seed=seed, **kwargs)

    monkeypatch.setattr(trainer_module, "evaluate_policy", spy)
    demos = collect_demonstrations("pointmaze-umaze", 3, seed=0, action_noise=0.3)
    out = tmp_path / "run"
    train("gail", "pointmaze-umaze", demos=demos, steps=384, out=out, overrides=TINY,
          progress=False)  # fmt: skip
    evaluation = json.loads((out / "eval.json").read_text())
    periodic, final, best = calls[:2], calls[2], calls[3:]
    assert final == (3, FINAL_EVAL_SEED)
    assert periodic == [(1, periodic_eval_seed(s)) for s in (128, 256)]  # not at the end
    # best_policy.pt, when it is not the final policy, is scored on the same final episodes
    assert best == ([(3, FINAL_EVAL_SEED)] if "best" in evaluation else [])
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert int(rows[-1]["env_steps"]) == evaluation["env_steps"] == 384
    assert float(rows[-1]["eval_success"]) == evaluation["success_rate"]
    assert float(rows[-1]["eval_return"]) == evaluation["return_mean"]
    assert evaluation["episodes"] == 3
    record = evaluation["demos"]
    assert record["episodes"] == 3 and record["action_noise"] == 0.3
    assert record["successful_only"] is False and record["variant"]["coverage"] == 1.0
    assert Policy.load(out / "policy.pt").metadata["demos"] == record
    # resuming the finished run evaluates again into the same last row, not a second one
    train(resume=out, progress=False)
    with open(out / "metrics.csv") as f:
        again = list(csv.DictReader(f))
    assert [r["env_steps"] for r in again] == [r["env_steps"] for r in rows]
    assert again[-1]["eval_success"] == rows[-1]["eval_success"]


class _Built(Exception):
    """Stops a run once its training environments would be made."""


@pytest.mark.parametrize("covered_only", [False, True])
def test_coverage_restricts_the_demonstrations_and_training_uses_every_cell(
    tmp_path, monkeypatch, covered_only
):
    """Reference 000's protocol: demonstrations from the covered cells, training episodes (and
    evaluation) from every cell; train_on_covered_cells keeps training to the covered cells."""
    built: list = []

    def spy(task, *args, **kwargs):
        built.append(task)
        raise _Built

    monkeypatch.setattr(trainer_module, "make_vec_env", spy)
    variant = get_task("pointmaze-medium", coverage=0.25)
    demos = collect_demonstrations(variant, 2, seed=0)
    overrides = {**TINY, "coverage": 0.25, "train_on_covered_cells": covered_only}
    with pytest.raises(_Built):
        train("gail", "pointmaze-medium", demos=demos, steps=384, out=tmp_path / "run",
              overrides=overrides, progress=False)  # fmt: skip
    trained_on = built[0]
    assert trained_on.coverage == (0.25 if covered_only else 1.0)
    starts = np.stack(episode_starts(trained_on, 30, seed=0))
    assert held_out_episodes(variant, starts).any() != covered_only


def test_runs_from_before_train_on_covered_cells_read_as_they_trained(tmp_path):
    """Online runs with coverage < 1 made before the setting existed kept training to the
    covered cells; offline ones never trained in an environment, and full coverage is the same."""
    from diffil.algorithms.config import inert_settings, read_run_config, resolve_config
    from diffil.runs.run_dir import RunDirectory

    def read_back(method: str, coverage: float) -> bool:
        config = resolve_config(method, "pointmaze-medium", {"coverage": coverage})
        data = yaml.safe_load(config.to_yaml())
        del data["train_on_covered_cells"]
        run = RunDirectory.create(tmp_path / f"{method}-{coverage}", yaml.safe_dump(data))
        return read_run_config(run).train_on_covered_cells

    assert read_back("drail", 0.5) is True
    assert read_back("gail", 1.0) is False
    assert read_back("bc", 0.5) is False
    today = resolve_config("drail", "pointmaze-medium", {"coverage": 0.5})
    assert today.train_on_covered_cells is False
    # where it cannot matter, the setting is inert: configs that differ only there train alike
    # (so a suite that pins it for its online cells still matches its offline and 100% cells)
    for method, coverage, inert in [("drail", 0.5, False), ("drail", 1.0, True), ("bc", 0.5, True)]:
        config = resolve_config(method, "pointmaze-medium", {"coverage": coverage})
        assert ("train_on_covered_cells" in inert_settings(config)) is inert

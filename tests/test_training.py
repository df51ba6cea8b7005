"""Training runs: the Table 1 loop, run directories, resume, BC, and their commands."""

from __future__ import annotations

import csv
import json
import signal
import tempfile
import time

import numpy as np
import pytest
import torch

from diffil.algorithms.run import train
from diffil.algorithms.trainer import OnlineTrainer
from diffil.cli import main
from diffil.errors import DiffilError, TrainingInterrupted
from diffil.policy import Policy

TINY = {
    "n_envs": 2,
    "num_demos": 10,
    "checkpoint_every": 512,
    "ppo": {"n_steps": 64, "batch_size": 64, "n_epochs": 2, "net_arch": [16, 16]},
    "reward": {"updates_per_rollout": 2, "batch_size": 64, "model": {"hidden": [32, 32]}},
    "eval": {"every": 1024, "episodes": 2, "final_episodes": 2},
    "bc": {"steps": 200, "batch_size": 64},
}


def rows(run_dir):
    with open(run_dir / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_short_run_writes_a_complete_run_directory(tmp_path, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    out = tmp_path / "run"
    result = train("drail", "pointmaze-umaze", steps=1024, out=out, overrides=TINY, progress=False)
    for name in ("config.yaml", "metrics.csv", "policy.pt", "eval.json", "demos.hdf5", "tb"):
        assert (out / name).exists(), name
    ckpt = out / "checkpoints" / "latest"
    for name in ("ppo.zip", "reward_model.pt", "vecnormalize.pkl", "state.json"):
        assert (ckpt / name).exists(), name
    logged = rows(out)
    assert [int(r["env_steps"]) for r in logged] == list(range(128, 1025, 128))
    for key in ("reward_mean", "reward_model.expert_acc", "train_success", "fps"):
        assert key in logged[0]
    assert logged[-1]["eval_success"] != ""
    assert result.env_steps == 1024
    evaluation = json.loads((out / "eval.json").read_text())
    assert evaluation == {**evaluation, **result.evaluation}  # the run's final evaluation
    assert evaluation["episodes"] == 2 and evaluation["env_steps"] == 1024
    assert evaluation["success_rate"] == evaluation["return_mean"]  # sparse: return 1 on success
    policy = Policy.load(out / "policy.pt")
    assert policy.metadata["method"] == "drail" and policy.predict(np.zeros(6)).shape == (2,)
    # no SB3 log folders or gymnasium-robotics maze XMLs left in the temporary directory
    assert [p.name for p in scratch.glob("SB3-*")] + [p.name for p in scratch.glob("*.xml")] == []


def test_rollout_rewards_are_relabelled_by_the_updated_reward_model(tmp_path, monkeypatch):
    """Table 1: the policy trains on rewards of the reward model *after* its update."""
    seen = []
    original = OnlineTrainer.reward_step

    def spy(self, buffer, recorder, last_values, dones):
        steps = recorder._steps[-buffer.buffer_size :]
        out = original(self, buffer, recorder, last_values, dones)
        obs, acts, next_obs, term, env_r = (np.stack(x) for x in zip(*steps, strict=True))
        flat = lambda a: a.reshape(-1, *a.shape[2:])  # noqa: E731
        batch = self.batch(flat(obs), flat(acts), flat(next_obs), flat(term))
        expected = self.reward_model.reward(batch).numpy().reshape(env_r.shape)
        seen.append((buffer.rewards.copy(), expected, env_r))
        return out

    monkeypatch.setattr(OnlineTrainer, "reward_step", spy)
    # the raw relabelled rewards (the maze family scales them by their return's std; that
    # scaling has its own tests in test_return_scaling.py)
    raw = {**TINY, "ppo": {**TINY["ppo"], "normalize_reward": False}}
    train("gail", "pointmaze-umaze", steps=256, out=tmp_path / "r", overrides=raw, progress=False)
    assert len(seen) == 2
    for buffer_rewards, expected, env_rewards in seen:
        # time-limit steps carry SB3's value bootstrap on top; none occur this early
        np.testing.assert_allclose(buffer_rewards, expected, rtol=1e-5, atol=1e-5)
        assert not np.allclose(buffer_rewards, env_rewards)


def interrupt_fifth_rollout(monkeypatch) -> None:
    """Make the 5th reward step of OnlineTrainer raise KeyboardInterrupt (Ctrl-C)."""
    original = OnlineTrainer.reward_step
    calls = {"n": 0}

    def interrupt_on_fifth(self, *args):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(OnlineTrainer, "reward_step", interrupt_on_fifth)


def test_interrupted_run_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    out = tmp_path / "run"
    original = OnlineTrainer.reward_step
    interrupt_fifth_rollout(monkeypatch)
    with pytest.raises(TrainingInterrupted, match="resume with: diffil train --resume"):
        train("airl", "pointmaze-umaze", steps=1024, out=out, overrides=TINY, progress=False)
    state = json.loads((out / "checkpoints" / "latest" / "state.json").read_text())
    assert state["env_steps"] == 640  # the interrupted rollout is the 5th of 128 steps
    monkeypatch.setattr(OnlineTrainer, "reward_step", original)
    result = train(resume=out, progress=False)
    assert result.env_steps == 1024
    steps = [int(r["env_steps"]) for r in rows(out)]
    assert steps == sorted(set(steps)) and steps[-1] == 1024  # no duplicated or lost rows


def test_the_best_periodic_policy_is_kept_across_a_resume_and_evaluated(tmp_path, monkeypatch):
    """best_policy.pt holds the policy of the best periodic evaluation (the first of equals);
    a resumed run reads its record back; eval.json gives its final evaluation."""
    from diffil.algorithms.trainer import Trainer

    scores = iter([0.2, 0.8, 0.5, 0.8, 0.3, 0.7])  # evaluations at 128, ..., 512 | 768, 896

    def scripted(self, policy, env_steps):
        s = next(scores)
        return {"episodes": 2.0, "return_mean": s, "return_std": 0.0, "length_mean": 9.0,
                "success_rate": s, "success_se": 0.0}  # fmt: skip

    monkeypatch.setattr(Trainer, "evaluate", scripted)
    out = tmp_path / "run"
    original = OnlineTrainer.reward_step
    interrupt_fifth_rollout(monkeypatch)
    overrides = {**TINY, "eval": {**TINY["eval"], "every": 128}}
    with pytest.raises(TrainingInterrupted):
        train("gail", "pointmaze-umaze", steps=1024, out=out, overrides=overrides, progress=False)
    assert Policy.load(out / "best_policy.pt").metadata["best"] == {"env_steps": 256, "score": 0.8}
    monkeypatch.setattr(OnlineTrainer, "reward_step", original)
    train(resume=out, progress=False)
    best = Policy.load(out / "best_policy.pt")
    assert best.metadata["best"] == {"env_steps": 256, "score": 0.8}  # 0.3 at 768 is not best
    evaluation = json.loads((out / "eval.json").read_text())
    assert evaluation["best"]["env_steps"] == 256
    assert evaluation["best"]["final_evaluation"]["episodes"] == 2  # eval.final_episodes
    assert main(["eval", str(out / "best_policy.pt"), "--episodes", "1"]) == 0


def test_finished_run_can_be_extended(tmp_path):
    out = tmp_path / "run"
    train("wail", "pointmaze-umaze", steps=256, out=out, overrides=TINY, progress=False)
    result = train(resume=out, steps=512, progress=False)
    assert result.env_steps == 512
    assert [int(r["env_steps"]) for r in rows(out)] == [128, 256, 384, 512]


def test_a_run_directory_takes_one_trainer_at_a_time(tmp_path, capsys):
    from diffil.runs.run_dir import RunDirectory

    out = tmp_path / "run"
    train("wail", "pointmaze-umaze", steps=256, out=out, overrides=TINY, progress=False)
    before = {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    holder = RunDirectory.open(out)  # stands for a second process still training into it
    holder.lock()
    code = main(["train", "--resume", str(out), "--steps", "512"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "another diffil process is training into this run directory" in err, err
    assert {p.name: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    holder.close()
    assert train(resume=out, steps=512, progress=False).env_steps == 512


def test_kill_stops_a_training_process_like_ctrl_c(tmp_path, diffil_process):
    out = tmp_path / "run"
    args = ["train", "gail", "--task", "pointmaze-umaze", "--steps", "10000000", "--out", str(out)]
    args += ["--set", "num_demos=10", "--set", "ppo.net_arch=[16,16]"]
    args += ["--set", "reward.model.hidden=[32,32]"]
    # the first metrics row comes after the first rollout: no BC warm start before it
    args += ["--set", "bc_warm_start=false", "--set", "ppo.n_steps=256"]
    process = diffil_process(args)
    deadline = time.monotonic() + 120
    while not (out / "metrics.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 130, output  # as after Ctrl-C
    assert "checkpoint saved; resume with: diffil train --resume" in output, output
    assert "Traceback" not in output, output
    state = json.loads((out / "checkpoints" / "latest" / "state.json").read_text())
    assert state["env_steps"] >= int(rows(out)[-1]["env_steps"]) > 0


def test_annealed_learning_rate_reaches_zero_across_a_resume(tmp_path):
    from stable_baselines3 import PPO

    out = tmp_path / "run"
    overrides = {**TINY, "ppo": {**TINY["ppo"], "anneal_lr": True, "learning_rate": 1e-3}}
    train("ppo", "pointmaze-umaze", steps=256, out=out, overrides=overrides, progress=False)
    lr = PPO.load(out / "checkpoints" / "latest" / "ppo.zip").policy.optimizer.param_groups[0]
    assert lr["lr"] == 0.0  # SB3 sets the rate from the steps done before each update
    # extended by a resume, the schedule stretches over the new budget and ends at 0 again
    assert train(resume=out, steps=512, progress=False).env_steps == 512
    model = PPO.load(out / "checkpoints" / "latest" / "ppo.zip")
    assert model.lr_schedule(0.5) == pytest.approx(5e-4)
    assert model.policy.optimizer.param_groups[0]["lr"] == 0.0
    train(
        "ppo", "pointmaze-umaze", steps=256, out=tmp_path / "flat", overrides=TINY, progress=False
    )
    flat = PPO.load(tmp_path / "flat" / "checkpoints" / "latest" / "ppo.zip")
    assert flat.policy.optimizer.param_groups[0]["lr"] == pytest.approx(3e-4)


def test_bc_imitates_expert_actions(tmp_path):
    out = tmp_path / "bc"
    result = train("bc", "pointmaze-umaze", out=out, overrides=TINY, progress=False)
    losses = [float(r["loss"]) for r in rows(out)]
    assert losses[-1] < losses[0] - 0.5
    demos = __import__("diffil").load_dataset(out / "demos.hdf5").transitions()
    policy = Policy.load(result.policy_path)
    mse = np.mean((policy.predict(demos.obs) - demos.acts) ** 2)
    baseline = np.mean(demos.acts**2)  # an uninformed policy that always outputs 0
    assert mse < 0.5 * baseline


def test_bc_warm_start_fits_the_actor_before_the_first_rollout(tmp_path, monkeypatch):
    seen = {}
    original = OnlineTrainer.warm_start_policy

    def spy(self):
        policy, expert = self.model.policy, self.expert

        def action_error():
            obs = self.venv.normalize_obs(expert.obs)
            actions, _ = self.model.predict(obs, deterministic=True)
            return float(np.mean((actions - expert.acts) ** 2))

        log_std = policy.log_std.detach().clone()
        original(self)
        seen["after"] = action_error()
        seen["log_std_kept"] = torch.equal(policy.log_std.detach(), log_std)
        np.testing.assert_allclose(self.venv.obs_rms.mean, expert.obs.mean(axis=0))

    monkeypatch.setattr(OnlineTrainer, "warm_start_policy", spy)
    overrides = {**TINY, "bc_warm_start": True, "bc": {"steps": 300, "batch_size": 64}}
    train(
        "gail",
        "pointmaze-umaze",
        steps=128,
        out=tmp_path / "w",
        overrides=overrides,
        progress=False,
    )
    demos = __import__("diffil").load_dataset(tmp_path / "w" / "demos.hdf5").transitions()
    assert seen["after"] < 0.5 * np.mean(demos.acts**2)  # far better than always acting 0
    assert seen["log_std_kept"]  # exploration stays PPO's setting


def test_bc_warm_start_is_ignored_out_loud_where_there_is_no_ppo_policy(tmp_path, capsys):
    overrides = {**TINY, "bc_warm_start": True, "bc": {"steps": 20, "batch_size": 64}}
    train("bc", "pointmaze-umaze", out=tmp_path / "b", overrides=overrides)
    assert "bc_warm_start has no effect on bc" in capsys.readouterr().out


def test_a_preset_setting_a_method_ignores_gets_no_note(tmp_path, capsys):
    # the maze family preset sets bc_warm_start for every method; BC was not asked for it
    overrides = {**TINY, "bc": {"steps": 20, "batch_size": 64}}
    train("bc", "pointmaze-umaze", out=tmp_path / "b", overrides=overrides)
    assert "has no effect" not in capsys.readouterr().out


def test_bc_regularisation_keeps_pulling_the_actor_toward_the_demonstrations(tmp_path):
    def action_error(run, **options):
        overrides = {**TINY, "bc_regularisation": 0, "ppo": {**TINY["ppo"], "learning_rate": 1e-3}}
        overrides.update(options)
        train("gail", "pointmaze-umaze", steps=640, out=tmp_path / run, overrides=overrides)
        policy = __import__("diffil").Policy.load(tmp_path / run / "policy.pt")
        demos = __import__("diffil").load_dataset(tmp_path / run / "demos.hdf5").transitions()
        return float(np.mean((policy.predict(demos.obs) - demos.acts) ** 2)), rows(tmp_path / run)

    plain, plain_rows = action_error("plain")
    pulled, pulled_rows = action_error("pulled", bc_regularisation=300)
    assert pulled < 0.5 * plain  # 4 BC passes between the 5 PPO rollouts
    assert "bc_mse" not in plain_rows[0]
    mse = [r["bc_mse"] for r in pulled_rows]
    assert mse[0] == "" and all(float(m) >= 0 for m in mse[1:])  # none before the first update


def test_bc_regularisation_is_ignored_out_loud_where_there_is_no_ppo_policy(tmp_path, capsys):
    overrides = {**TINY, "bc_regularisation": 10, "bc": {"steps": 20, "batch_size": 64}}
    train("bc", "pointmaze-umaze", out=tmp_path / "b", overrides=overrides)
    assert "bc_regularisation has no effect on bc" in capsys.readouterr().out


@pytest.mark.parametrize("method", ["gail", "drail"])
def test_reward_models_learn_to_separate_agent_from_expert_in_the_loop(tmp_path, method):
    overrides = {**TINY, "reward": {**TINY["reward"], "updates_per_rollout": 20}}
    if method == "drail":
        overrides["reward"]["model"] = {"hidden": [64, 64], "lr": 1e-3}
    train(
        method,
        "pointmaze-umaze",
        steps=2048,
        out=tmp_path / "r",
        overrides=overrides,
        progress=False,
    )
    last = rows(tmp_path / "r")[-4:]
    acc = np.mean(
        [
            0.5 * (float(r["reward_model.expert_acc"]) + float(r["reward_model.agent_acc"]))
            for r in last
        ]
    )
    assert acc > 0.6


def test_gail_policy_reaches_the_goal(tmp_path):
    """A trained policy reaches a success rate (small budget; the full ones are benchmarks).

    The umaze preset warm-starts the actor with BC, so this holds from the first rollouts
    (100% at every 10k steps up to 61k, seed 0): what it checks is that GAIL's adversarial
    updates keep a policy at the goal rather than pulling it off."""
    overrides = {
        "n_envs": 4,
        "num_demos": 50,
        "eval": {"every": 10**9, "episodes": 30, "final_episodes": 30},
    }
    result = train(
        "gail",
        "pointmaze-umaze",
        steps=30_720,
        out=tmp_path / "g",
        overrides=overrides,
        progress=False,
    )
    assert result.evaluation["success_rate"] >= 0.6


def test_cli_train_eval_export(tmp_path, capsys):
    import onnxruntime as ort

    out = tmp_path / "run"
    sets = [
        "--set",
        "n_envs=2",
        "--set",
        "ppo.n_steps=64",
        "--set",
        "ppo.batch_size=64",
        "--set",
        "num_demos=5",
        "--set",
        "eval.episodes=2",
        "--set",
        "eval.final_episodes=2",
        "--set",
        "ppo.n_epochs=1",
    ]
    code = main(
        [
            "train",
            "drail",
            "--task",
            "pointmaze-umaze",
            "--steps",
            "256",
            "--out",
            str(out),
            "--quiet",
            *sets,
        ]
    )
    assert code == 0
    assert main(["eval", str(out), "--episodes", "3"]) == 0
    assert "success" in capsys.readouterr().out
    assert main(["export", str(out), "--format", "onnx"]) == 0
    onnx_path = out / "policy.onnx"
    policy = Policy.load(out / "policy.pt")
    obs = np.random.default_rng(0).normal(size=(32, 6)).astype(np.float32)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    onnx_actions = session.run(None, {"obs": obs})[0]
    np.testing.assert_allclose(onnx_actions, policy.predict(obs), atol=1e-5)
    assert main(["reward-map", str(out), "--resolution", "12"]) == 0
    assert (out / "reward_map.png").stat().st_size > 5_000


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_training_on_gpu(tmp_path):
    result = train(
        "drail",
        "pointmaze-umaze",
        steps=256,
        out=tmp_path / "gpu",
        device="cuda",
        overrides=TINY,
        progress=False,
    )
    assert result.env_steps == 256


def _one_line_error(capsys, args, *phrases):
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("diffil: error:"), err
    for phrase in phrases:
        assert phrase in err[0], err[0]


def test_bad_training_arguments_are_one_line_errors(tmp_path, capsys):
    _one_line_error(
        capsys,
        ["train", "drial", "--task", "pointmaze-umaze"],
        "unknown method 'drial'",
        "did you mean 'drail'",
    )
    _one_line_error(capsys, ["train", "drail", "--task", "pointmaze-small"], "unknown task")
    _one_line_error(
        capsys,
        [
            "train",
            "drail",
            "--task",
            "pointmaze-umaze",
            "--set",
            "ppo.nstep=3",
            "--out",
            str(tmp_path / "x"),
        ],
        "unknown config.ppo key(s) nstep",
    )
    _one_line_error(
        capsys,
        ["train", "drail", "--task", "pointmaze-umaze", "--demos", str(tmp_path / "missing.npz")],
        "no such file",
    )
    _one_line_error(capsys, ["train", "--resume", str(tmp_path)], "not a diffil run directory")
    base = ["train", "gail", "--task", "pointmaze-umaze", "--out", str(tmp_path / "y")]
    _one_line_error(capsys, [*base, "--set", "ppo.net_arch=[1,"], "cannot read the value")
    _one_line_error(capsys, [*base, "--set", "ppo.n_steps=abc"], "ppo.n_steps must be a number")
    _one_line_error(capsys, [*base, "--set", "ppo.n_steps=0"], "ppo.n_steps must be > 0")
    _one_line_error(capsys, [*base, "--set", "eval.num_envs=0"], "eval.num_envs must be > 0")
    _one_line_error(capsys, [*base, "--set", "fixed_horizon=true"], "end on success")
    _one_line_error(
        capsys, ["train", "bc", "--task", "pointmaze-umaze", "--rl", "sac"], "no RL backbone"
    )
    offline = ["train", "flow-policy", "--task", "pointmaze-umaze", "--out", str(tmp_path / "y")]
    _one_line_error(capsys, [*offline, "--set", "rl=sac"], "no RL backbone")
    assert not (tmp_path / "y").exists()  # refused before anything was written
    _one_line_error(capsys, ["eval", str(tmp_path)], "not a diffil run directory")


def test_demos_that_do_not_fit_the_task_are_rejected(tmp_path, capsys):
    from diffil.data import Trajectory, TrajectoryDataset, save_dataset

    hopper_like = TrajectoryDataset(
        [Trajectory(np.zeros((11, 11)), np.zeros((10, 3)), rewards=np.zeros(10))]
    )
    path = save_dataset(hopper_like, tmp_path / "hopper.npz")
    _one_line_error(
        capsys,
        [
            "train",
            "gail",
            "--task",
            "pointmaze-umaze",
            "--demos",
            str(path),
            "--out",
            str(tmp_path / "run"),
        ],
        "hopper.npz",
        "11 dims",
        "'pointmaze-umaze' has 6",
    )
    assert not (tmp_path / "run").exists()  # nothing half-made is left to block a retry


def test_family_presets_apply_to_their_tasks_only():
    from diffil.algorithms.config import resolve_config

    # locomotion re-plans generative policies at every step; the mazes keep the default
    assert resolve_config("flow-policy", "halfcheetah").generative.exec_horizon == 1
    assert resolve_config("flow-policy", "pointmaze-medium").generative.exec_horizon == 4
    # a user override still wins over the family preset
    cfg = resolve_config("flow-policy", "hopper", {"generative": {"exec_horizon": 2}})
    assert cfg.generative.exec_horizon == 2


def test_task_presets_set_per_method_options_for_that_method_only():
    from diffil.algorithms.config import resolve_config

    # hopper ends episodes on a fall: the discriminator methods get a non-negative reward there
    for method in ("drail", "gail", "diffail"):
        assert resolve_config(method, "hopper").reward.model["reward_type"] == "gail"
        assert resolve_config(method, "halfcheetah").reward.model["reward_type"] == "airl"
        assert resolve_config(method, "pointmaze-medium").reward.model["reward_type"] == "airl"
    # other methods on the same task are untouched (SMILING's model has no reward_type)
    assert "reward_type" not in resolve_config("smiling", "hopper").reward.model
    assert resolve_config("airl", "hopper").reward.model["reward_type"] == "airl"
    # the rest of DRAIL's preset survives the merge, and a user override still wins
    assert resolve_config("drail", "walker2d").reward.model["hidden"] == [128, 128]
    override = {"reward": {"model": {"reward_type": "airl"}}}
    assert resolve_config("drail", "hopper", override).reward.model["reward_type"] == "airl"


def test_a_preset_naming_an_unknown_method_is_a_one_line_error(monkeypatch):
    from diffil.algorithms import config as config_module

    real = config_module.preset

    def with_typo(kind, name):
        data = real(kind, name)
        return {**data, "methods": {"dral": {"steps": 1}}} if kind == "tasks" else data

    monkeypatch.setattr(config_module, "preset", with_typo)
    with pytest.raises(DiffilError, match=r"configs/tasks/hopper.yaml: unknown method\(s\) dral"):
        config_module.resolve_config("drail", "hopper")


def test_eval_of_a_run_uses_the_variant_it_was_trained_on(tmp_path, monkeypatch):
    import diffil.eval.evaluate as evaluate_module

    out = tmp_path / "run"
    overrides = {**TINY, "noise": 1.5, "bc": {"steps": 10}}
    train("bc", "pointmaze-umaze", out=out, overrides=overrides, progress=False)
    seen = []
    real = evaluate_module.evaluate_policy

    def spy(task, policy, episodes, **kwargs):
        seen.append(task.variant_settings["noise"])
        return real(task, policy, episodes, **kwargs)

    monkeypatch.setattr(evaluate_module, "evaluate_policy", spy)
    assert main(["eval", str(out), "--episodes", "1"]) == 0
    assert main(["eval", str(out), "--episodes", "1", "--noise", "1"]) == 0
    assert seen == [1.5, 1.0]  # the run's noise unless --noise says otherwise

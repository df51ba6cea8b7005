"""Multi-task runs (reference 000, [0050]): one policy and one reward model over several tasks."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml

from diffil.algorithms import config as train_config
from diffil.algorithms.config import resolve_config
from diffil.algorithms.multitask import merge_task_datasets
from diffil.algorithms.run import train
from diffil.cli import main
from diffil.envs.multitask import MultiTaskSpec, task_ids, with_task_id
from diffil.envs.registry import get_task
from diffil.errors import DiffilError
from diffil.experts.collect import collect_demonstrations
from diffil.policy import Policy, export_policy
from diffil.rl.ppo import make_vec_env

MAZES = "pointmaze-umaze,pointmaze-medium"

TINY = {
    "n_envs": 2,
    "num_demos": 3,
    "checkpoint_every": 256,
    "ppo": {"n_steps": 64, "batch_size": 64, "n_epochs": 1, "net_arch": [16, 16]},
    "reward": {"updates_per_rollout": 2, "batch_size": 64, "model": {"hidden": [32, 32]}},
    "eval": {"every": 10_000, "episodes": 1, "final_episodes": 2},
    "bc": {"steps": 20, "batch_size": 64},
}


def test_a_task_list_is_one_task_with_the_task_id_appended():
    spec = get_task(" pointmaze-umaze , pointmaze-medium")
    assert isinstance(spec, MultiTaskSpec)
    assert spec.name == MAZES and spec.task_names == ["pointmaze-umaze", "pointmaze-medium"]
    assert (spec.obs_dim, spec.act_dim) == (6 + 2, 2)
    variant = spec.variant(noise=0.5)
    assert [m.noise for m in variant.members] == [0.5, 0.5]
    assert get_task(MAZES, noise=0.5).variant_settings == variant.variant_settings


def test_demonstration_batches_carry_their_task_ids():
    spec = get_task(MAZES)
    sources = [collect_demonstrations(name, 2, seed=1) for name in spec.task_names]
    merged = merge_task_datasets(spec, sources)
    assert merged.task == MAZES and set(merged.metadata["tasks"]) == set(spec.task_names)
    assert len(merged) == 4 and merged.obs_dim == 8
    for index, source in enumerate(sources):
        for tagged, raw in zip(merged[2 * index : 2 * index + 2], source, strict=True):
            np.testing.assert_array_equal(tagged.observations[:, :6], raw.observations)
            assert (tagged.observations[:, 6:] == np.eye(2)[index]).all()
    # a batch of the reward model's expert data: each row's id is its episode's task
    data = merged.transitions()
    lengths = [len(t) for t in merged]
    expected = np.repeat([0, 0, 1, 1], lengths)
    batch = data.sample(64, np.random.default_rng(0))
    assert set(task_ids(batch.obs, 2)) == {0, 1}
    np.testing.assert_array_equal(task_ids(data.obs, 2), expected)
    np.testing.assert_array_equal(task_ids(data.next_obs, 2), expected)


def test_rollouts_mix_the_tasks_and_tag_each_with_its_own_id():
    spec = get_task(MAZES)
    venv = make_vec_env(spec, n_envs=4, seed=10)
    obs = venv.reset()
    # env i starts on task (seed + i) mod 2, its observation that task's own reset
    assert list(task_ids(obs, 2)) == [0, 1, 0, 1]
    for i in range(4):
        own, _ = spec.members[i % 2].make_env().reset(seed=10 + i)
        np.testing.assert_allclose(obs[i, :6], own, rtol=1e-6)
    venv.close()
    env = spec.make_env()
    seen = []
    for episode in range(4):
        obs, info = env.reset(seed=3 if episode == 0 else None)
        assert task_ids(obs, 2) == info["task_index"]
        obs, _, _, _, info = env.step(env.action_space.sample())
        assert task_ids(obs, 2) == info["task_index"] and "success" in info
        seen.append(info["task_index"])
    assert seen == [1, 0, 1, 0]  # seed 3 starts on task 1, then the tasks take turns
    # each task keeps its own time limit
    assert [e.spec.max_episode_steps for e in env.envs] == [300, 600]


def test_config_of_a_task_list():
    config = resolve_config("drail", MAZES)
    umaze = resolve_config("drail", "pointmaze-umaze")
    assert config.task == MAZES
    assert config.steps == 300_000 + 1_000_000  # the sum of the tasks' budgets
    assert config.eval.every == 50_000  # the largest of theirs
    assert config.ppo == umaze.ppo and config.reward == umaze.reward  # the first task's
    assert resolve_config("drail", MAZES, {"steps": 5000}).steps == 5000


def test_presets_that_disagree_on_what_the_run_is_are_refused(monkeypatch):
    original = train_config.resolve_config

    def resolve(method, task, overrides):
        config = original(method, task, overrides)
        config.rl = "sac" if task == "pointmaze-medium" else "ppo"
        return config

    monkeypatch.setattr(train_config, "resolve_config", resolve)
    with pytest.raises(DiffilError, match="disagree on rl"):
        resolve_config("drail", MAZES)


def test_tiny_multitask_drail_run_trains_evaluates_per_task_exports_and_resumes(tmp_path, capsys):
    import onnxruntime as ort

    out = tmp_path / "run"
    result = train(
        "drail",
        ["pointmaze-umaze", "pointmaze-medium"],
        steps=256,
        out=out,
        overrides=TINY,
        progress=False,
    )
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["task"] == MAZES and config["steps"] == 256
    evaluation = json.loads((out / "eval.json").read_text())
    assert set(evaluation["tasks"]) == {"pointmaze-umaze", "pointmaze-medium"}
    per_task = [evaluation["tasks"][n]["success_rate"] for n in MAZES.split(",")]
    assert evaluation["success_rate"] == pytest.approx(np.mean(per_task))
    assert evaluation["episodes"] == 4 and result.evaluation["tasks"]
    assert evaluation["demos"]["episodes"] == 6
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert {"eval_success.pointmaze-umaze", "eval_success.pointmaze-medium"} <= set(rows[0])
    assert rows[-1]["eval_success.pointmaze-medium"] != ""
    policy = Policy.load(out / "policy.pt")
    assert policy.metadata["tasks"] == ["pointmaze-umaze", "pointmaze-medium"]
    assert policy.obs_dim == 8
    # the export takes [observation, one-hot task id], as the policy does
    onnx_path = export_policy(policy, tmp_path / "p.onnx", "onnx")
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    obs = np.random.default_rng(0).normal(size=(16, 6)).astype(np.float32)
    for task in (0, 1):
        tagged = with_task_id(obs, task, 2)
        assert tagged.shape == (16, 8) and tagged.dtype == np.float32
        onnx_actions = session.run(None, {"obs": tagged})[0]
        np.testing.assert_allclose(onnx_actions, policy.predict(tagged), atol=1e-5)
    # `diffil eval` reports each task, then their mean
    assert main(["eval", str(out), "--episodes", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines[-3:]] == [*MAZES.split(","), MAZES]
    assert lines[-1].endswith("(2 episodes)")  # one line each, never wrapped
    # resume continues the same multi-task run
    resumed = train(resume=out, steps=320, progress=False)
    assert resumed.env_steps == 384 and set(resumed.evaluation["tasks"]) == set(evaluation["tasks"])


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ("pointmaze-umaze,hopper", "must share observation and action sizes"),
        ("pointmaze-umaze,nope", "unknown task 'nope'"),
        ("pointmaze-umaze,pointmaze-umaze", "listed twice"),
        ("pointmaze-umaze,", "empty task name"),
    ],
)
def test_bad_task_lists_are_one_line_errors(task, message, capsys):
    assert main(["train", "drail", "--task", task, "--steps", "64"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("diffil: error:") and message in err and "\n" not in err


def test_a_multitask_run_refuses_demos_and_bad_task_ids(tmp_path):
    with pytest.raises(DiffilError, match="multi-task run uses each task"):
        train("drail", MAZES, demos=tmp_path / "d.hdf5", out=tmp_path / "r", progress=False)
    with pytest.raises(DiffilError, match="out of range"):
        with_task_id(np.zeros(6), 2, 2)


def test_collect_on_a_task_list_says_to_collect_one_task_at_a_time(tmp_path, capsys):
    out = tmp_path / "d.hdf5"
    assert main(["collect", "--task", MAZES, "--episodes", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "one task at a time" in err and "expert train" not in err and not out.exists()

"""Bringing your own task: gym:ENV_ID, Minari datasets that name their environment,
diffil.register_task, and the shipped demonstrations used by default."""

from __future__ import annotations

import json
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest
import yaml

import diffil
from diffil.algorithms.config import resolve_config
from diffil.cli import main
from diffil.datasets import shipped_path
from diffil.envs import registry
from diffil.envs.registry import get_task
from diffil.utils.paths import shown_path

MODULE = "diffil_tiny_reach"
TINY_ID = f"{MODULE}:TinyReach-v0"

# A 1-D reaching task diffil has never seen: dict goal observations, info["is_success"], a
# 40-step time limit; registered with gymnasium when its module is imported (module:ID syntax).
TINY_REACH = textwrap.dedent(
    """
    import gymnasium as gym
    import numpy as np

    Box = gym.spaces.Box


    class TinyReach(gym.Env):
        def __init__(self):
            box = Box(-2.0, 2.0, (1,), np.float64)
            self.observation_space = gym.spaces.Dict(
                {"observation": box, "achieved_goal": box, "desired_goal": box}
            )
            self.action_space = Box(-1.0, 1.0, (1,), np.float32)

        def _obs(self):
            return {"observation": self.x.copy(), "achieved_goal": self.x.copy(),
                    "desired_goal": self.goal.copy()}

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.x = self.np_random.uniform(-1, 1, 1)
            self.goal = self.np_random.uniform(-1, 1, 1)
            return self._obs(), {"is_success": False}

        def step(self, action):
            self.x = np.clip(self.x + 0.1 * np.clip(action, -1, 1), -2, 2)
            distance = float(abs(self.x - self.goal)[0])
            success = distance < 0.05
            return self._obs(), -distance, success, False, {"is_success": success}


    gym.register("TinyReach-v0", entry_point=f"{__name__}:TinyReach", max_episode_steps=40)
    """
)


def reach_expert(obs: dict) -> np.ndarray:
    gap = obs["desired_goal"] - obs["observation"]
    return np.clip(gap / 0.1, -1, 1).astype(np.float32)


@pytest.fixture()
def tiny_module(tmp_path_factory, monkeypatch):
    """The TinyReach module on sys.path (written once per session)."""
    folder = tmp_path_factory.getbasetemp() / "tiny_reach_module"
    if not folder.exists():
        folder.mkdir()
        (folder / f"{MODULE}.py").write_text(TINY_REACH)
    monkeypatch.syspath_prepend(str(folder))
    return MODULE


@pytest.fixture()
def clean_registry(monkeypatch):
    """Tasks registered or resolved by a test do not outlive it."""
    monkeypatch.setattr(registry, "_TASKS", dict(registry._TASKS))
    monkeypatch.setattr(registry, "_RESOLVED", {})


def record_with_minari(root, monkeypatch, env, policy, episodes, dataset_id):
    """A dataset recorded by minari.DataCollector, in a temporary MINARI_DATASETS_PATH."""
    minari = pytest.importorskip("minari")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    collector = minari.DataCollector(env, record_infos=True)
    for episode in range(episodes):
        obs, _ = collector.reset(seed=episode)
        done = False
        while not done:
            obs, _, terminated, truncated, _ = collector.step(policy(obs))
            done = terminated or truncated
    collector.create_dataset(
        dataset_id=dataset_id,
        eval_env=collector.spec,  # the recording env (without it Minari warns that it assumes so)
        algorithm_name="scripted",
        author="diffil tests",
        author_email="none",
        code_permalink="none",
        description="test data",
    )
    return root / dataset_id


@pytest.fixture()
def tiny_demos(tmp_path, monkeypatch, tiny_module, clean_registry):
    env = gym.make(TINY_ID)
    return record_with_minari(
        tmp_path / "minari", monkeypatch, env, reach_expert, 30, "tiny/reach-v0"
    )


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_gym_task_infers_its_settings_from_the_environment(tiny_module, clean_registry):
    pendulum = get_task("gym:Pendulum-v1")
    assert pendulum.dims == (3, 1) and pendulum.max_episode_steps == 200
    assert pendulum.success_key is None and pendulum.reference is None
    tiny = get_task(f"gym:{TINY_ID}")  # module:ID imports the module, which registers the id
    assert tiny.success_key == "is_success" and tiny.max_episode_steps == 40
    env = tiny.make_env(seed=0)
    obs, _ = env.reset(seed=0)
    raw = env.unwrapped._obs()
    # dict goal observations are flattened as for the mazes: (observation, desired_goal)
    np.testing.assert_allclose(obs, [raw["observation"][0], raw["desired_goal"][0]])
    # every method resolves a config for it
    for method in ("drail", "bc", "smiling", "diffusion-policy", "sac"):
        assert resolve_config(method, tiny.name).task == tiny.name


def test_train_and_eval_on_a_minari_dataset_that_names_its_environment(
    tiny_demos, tmp_path, capsys
):
    bc_run = tmp_path / "bc"
    code, _, err = cli(
        capsys,
        "train",
        "bc",
        "--demos",
        str(tiny_demos),
        "--out",
        str(bc_run),
        "--set",
        "bc.steps=300",
        "--set",
        "eval.episodes=10",
        "--quiet",
    )
    assert code == 0, err
    # the task came from the dataset's env spec, and success from info["is_success"]
    assert yaml.safe_load((bc_run / "config.yaml").read_text())["task"] == f"gym:{TINY_ID}"
    evaluation = json.loads((bc_run / "eval.json").read_text())
    assert "success_rate" in evaluation
    # BC imitates: on the demonstrations' states its actions are far closer to the expert's
    # than uniformly random actions are
    demos = diffil.load_dataset(tiny_demos)
    expert = demos.transitions()
    policy = diffil.Policy.load(bc_run / "policy.pt")
    bc_error = np.abs(np.stack([policy(o) for o in expert.obs]) - expert.acts).mean()
    random = np.random.default_rng(0).uniform(-1, 1, expert.acts.shape)
    assert bc_error < 0.3 * np.abs(random - expert.acts).mean()
    code, out, err = cli(capsys, "eval", str(bc_run), "--episodes", "10")
    assert code == 0, err
    assert "success" in out

    drail_run = tmp_path / "drail"
    code, _, err = cli(
        capsys,
        "train",
        "drail",
        "--demos",
        str(tiny_demos),
        "--out",
        str(drail_run),
        "--steps",
        "512",
        "--set",
        "n_envs=2",
        "--set",
        "ppo.n_steps=128",
        "--set",
        "ppo.batch_size=64",
        "--set",
        "eval.episodes=3",
        "--quiet",
    )
    assert code == 0, err
    evaluation = json.loads((drail_run / "eval.json").read_text())
    assert evaluation["env_steps"] >= 512 and "success_rate" in evaluation
    meta = diffil.Policy.load(drail_run / "policy.pt").metadata
    assert meta["task"] == f"gym:{TINY_ID}" and json.loads(meta["env_spec"])["id"] == "TinyReach-v0"


def test_a_dataset_env_spec_with_other_arguments_makes_that_environment(
    tmp_path, monkeypatch, clean_registry
):
    env = gym.make("Pendulum-v1", g=5.0)
    path = record_with_minari(
        tmp_path, monkeypatch, env, lambda obs: np.zeros(1, np.float32), 1, "pendulum/g5-v0"
    )
    demos = diffil.load_dataset(path)
    task = get_task(demos.task)
    assert task.name == "gym:Pendulum-v1"
    assert task.make_env().unwrapped.g == 5.0  # not the registered default (10)


@pytest.fixture()
def pendulum_demos(tmp_path, monkeypatch):
    env = gym.make("Pendulum-v1")
    zero = lambda obs: np.zeros(1, np.float32)  # noqa: E731
    return record_with_minari(tmp_path / "minari", monkeypatch, env, zero, 1, "pendulum/zero-v0")


@pytest.mark.parametrize(
    ("task", "phrases"),
    [
        ("gym:CartPole-v1", ["continuous (Box) action space; CartPole-v1 has Discrete(2)"]),
        ("gym:MountainCarContinuous-v0", ["observations have 3 dims and actions 1", "has 2 and 1"]),
        ("gym:NoSuchEnv-v0", ["unknown gymnasium environment", "gym:my_package.envs:NoSuchEnv"]),
    ],
)
def test_task_errors_are_one_line(pendulum_demos, tmp_path, capsys, task, phrases):
    code, _, err = cli(
        capsys,
        "train",
        "bc",
        "--task",
        task,
        "--demos",
        str(pendulum_demos),
        "--out",
        str(tmp_path / "run"),
        "--quiet",
    )
    assert code == 2 and err.startswith("diffil: error:") and err.count("\n") == 1, err
    for phrase in phrases:
        assert phrase in err
    assert not (tmp_path / "run").exists()


def test_dict_demonstrations_for_a_flat_task_say_so(tiny_demos, capsys):
    code, _, err = cli(capsys, "data", "info", str(tiny_demos), "--task", "gym:Pendulum-v1")
    assert code == 2 and err.count("\n") == 1, err
    assert "observations are dicts (achieved_goal, desired_goal, observation)" in err
    assert "task 'gym:Pendulum-v1' observes flat vectors" in err


def test_register_task_makes_a_factory_usable_by_name(tiny_module, tmp_path, clean_registry):
    from diffil.experts.collect import collect_demonstrations

    def make_env():  # the user's own wrappers: a flat (desired_goal, observation) vector
        env = gym.wrappers.FilterObservation(gym.make(TINY_ID), ["observation", "desired_goal"])
        return gym.wrappers.FlattenObservation(env)

    task = diffil.register_task("tiny-flat", make_env, reference=(-10.0, -1.0))
    assert get_task("tiny-flat") is task and "tiny-flat" in diffil.list_tasks()
    assert task.dims == (2, 1) and task.success_key == "is_success"
    assert task.max_episode_steps == 40  # from the environment's own time limit
    demos = collect_demonstrations(
        task, 10, expert=lambda o: np.clip((o[:1] - o[1:]) / 0.1, -1, 1).astype(np.float32)
    )
    result = diffil.train(
        "bc",
        "tiny-flat",
        demos=demos,
        out=tmp_path / "run",
        progress=False,
        overrides={"bc": {"steps": 200}, "eval": {"episodes": 5}},
    )
    assert {"success_rate", "normalized_return"} <= set(result.evaluation)
    with pytest.raises(diffil.DiffilError, match="already registered"):
        diffil.register_task("tiny-flat", make_env)
    with pytest.raises(diffil.DiffilError, match=r"Box\) action space; .* has Discrete\(2\)"):
        diffil.register_task("cartpole", lambda: gym.make("CartPole-v1"))

    class Unbounded(gym.Env):  # takes any action: no scale for policies to work in
        observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        action_space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)

        def reset(self, *, seed=None, options=None):
            return np.zeros(2, np.float32), {}

        def step(self, action):
            return np.zeros(2, np.float32), 0.0, False, False, {}

    with pytest.raises(diffil.DiffilError, match=r"finite action bounds; .*Box\(-inf, inf"):
        diffil.register_task("unbounded", lambda: gym.wrappers.TimeLimit(Unbounded(), 10))


def test_module_name_imports_the_module_that_registers_the_task(
    tmp_path, monkeypatch, clean_registry
):
    (tmp_path / "my_tasks.py").write_text(
        "import gymnasium as gym\nimport diffil\n"
        "diffil.register_task('pendulum-clip', lambda: gym.wrappers.ClipAction("
        "gym.make('Pendulum-v1')), max_episode_steps=50)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_tasks", raising=False)
    task = get_task("my_tasks:pendulum-clip")
    assert task.name == "my_tasks:pendulum-clip" and task.max_episode_steps == 50
    # ClipAction advertises Box(-inf, inf) and clips to Pendulum's bounds: those are the task's
    env = task.make_env()
    assert (env.action_space.low, env.action_space.high) == (-2.0, 2.0)
    env.close()
    with pytest.raises(diffil.DiffilError, match="did not register a task 'nope'"):
        get_task("my_tasks:nope")


def test_shipped_demonstrations_are_the_default_and_announced(tmp_path, capsys):
    run = tmp_path / "run"
    code, out, err = cli(
        capsys,
        "train",
        "bc",
        "--task",
        "hopper",
        "--out",
        str(run),
        "--set",
        "bc.steps=2",
        "--set",
        "eval.episodes=1",
        "--set",
        "num_demos=5",
    )
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("using the shipped demonstrations"))
    assert line.endswith("hopper.hdf5 (5 episodes)")
    demos = yaml.safe_load((run / "config.yaml").read_text())["demos"]
    assert demos.endswith("diffil/datasets/hopper.hdf5")
    assert len(diffil.load_dataset(run / "demos.hdf5")) == 5


def test_a_task_without_demonstrations_says_where_it_looked(tmp_path, capsys):
    # every built-in task ships demonstrations or has a scripted expert; a gymnasium id has neither
    task = "gym:Pendulum-v1"
    code, _, err = cli(capsys, "train", "bc", "--task", task, "--out", str(tmp_path / "r"))
    assert code == 2 and err.count("\n") == 1, err
    assert "no shipped demonstrations at" in err
    assert shown_path(shipped_path(task)) in err
    assert "--demos" in err

"""Task registry: names, dimensions, and the generalisation variants."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from diffil.envs import get_task, list_tasks
from diffil.envs.maze import MazeLayout
from diffil.errors import DiffilError
from diffil.experts.collect import collect_demonstrations


def test_builtin_tasks_and_dims():
    names = set(list_tasks())
    expected = {"pointmaze-umaze", "pointmaze-medium", "pointmaze-large"}
    assert expected | {"hopper", "halfcheetah", "walker2d", "ant"} <= names
    assert get_task("pointmaze-medium").dims == (6, 2)
    assert get_task("hopper").dims == (11, 3)
    assert get_task("pointmaze-large").max_episode_steps == 800


def test_unknown_task_suggests_a_name():
    with pytest.raises(DiffilError, match="did you mean 'pointmaze-medium'"):
        get_task("pointmaze-medum")


def test_maze_observation_is_position_velocity_goal():
    env = get_task("pointmaze-umaze").make_env(seed=0)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (6,)
    obs, *_ = env.step(np.array([1.0, -1.0], dtype=np.float32))
    data = env.unwrapped.point_env.data
    np.testing.assert_allclose(obs[0:2], data.qpos[:2])
    np.testing.assert_allclose(obs[2:4], data.qvel[:2])
    np.testing.assert_allclose(obs[4:6], env.unwrapped.goal)


def _cells(dataset, layout, which):
    index = {"start": (0, slice(0, 2)), "goal": (0, slice(4, 6))}[which]
    return {layout.xy_to_cell(t.observations[index]) for t in dataset}


def test_coverage_variant_limits_demonstration_cells_but_not_evaluation():
    task = get_task("pointmaze-medium", coverage=0.25)
    layout = MazeLayout.from_env(task.make_env())
    allowed = set(layout.coverage_cells(0.25))
    assert len(allowed) == int(np.ceil(0.25 * len(layout.free_cells)))
    demos = collect_demonstrations(task, episodes=30, seed=0)
    assert _cells(demos, layout, "start") <= allowed
    assert _cells(demos, layout, "goal") <= allowed
    assert demos.metadata["variant"]["coverage"] == 0.25
    # evaluation environments draw from every cell
    env = task.make_env(evaluation=True)
    starts = {layout.xy_to_cell(env.reset(seed=s)[0][:2]) for s in range(60)}
    assert not starts <= allowed
    # coverage subsets are nested: 25% of the cells are part of the 50% subset
    assert allowed <= set(layout.coverage_cells(0.5))


def _start_offsets(task, n=40):
    env = task.make_env()
    layout = MazeLayout.from_env(env)
    offsets = []
    for s in range(n):
        xy = env.reset(seed=s)[0][:2]
        offsets.append(np.abs(xy - layout.cell_to_xy(layout.xy_to_cell(xy))).max())
    return np.array(offsets)


def test_noise_variant_scales_reset_noise():
    base = _start_offsets(get_task("pointmaze-umaze"))
    none = _start_offsets(get_task("pointmaze-umaze", noise=0.0))
    double = _start_offsets(get_task("pointmaze-umaze", noise=1.6))
    assert none.max() < 1e-9
    assert base.max() <= 0.25 + 1e-9
    assert double.max() > 0.25  # beyond the default noise range


def test_noise_variant_on_locomotion():
    def spread(task):
        env = task.make_env()
        return np.std([env.reset(seed=s)[0] for s in range(20)], axis=0).mean()

    assert spread(get_task("hopper", noise=10.0)) > 5 * spread(get_task("hopper"))


def test_halfcheetah_builds_without_mujocos_settotalmass_deprecation_but_other_warnings_pass(capfd):
    import mujoco

    from diffil.envs.locomotion import known_deprecations_silenced

    get_task("halfcheetah").make_env().close()
    assert "settotalmass" not in "".join(capfd.readouterr())  # printed by MuJoCo 4 otherwise
    before = mujoco.get_mju_user_warning()
    with (
        pytest.warns(RuntimeWarning, match="MuJoCo: something else"),
        known_deprecations_silenced(),
    ):
        mujoco.get_mju_user_warning()("something else")
    assert mujoco.get_mju_user_warning() is before


def test_bad_variants_are_clear_errors():
    with pytest.raises(DiffilError, match="coverage"):
        get_task("pointmaze-umaze", coverage=0.0)
    with pytest.raises(DiffilError, match="maze tasks only"):
        get_task("hopper", coverage=0.5)
    with pytest.raises(DiffilError, match="noise"):
        get_task("hopper", noise=-1)


def test_fixed_horizon_training_envs_ignore_falls_but_evaluation_envs_do_not():
    task = get_task("hopper")

    def run(env, steps=300):
        env.reset(seed=0)
        ends = []
        for _ in range(steps):  # large random actions make the hopper fall within ~30 steps
            _, _, terminated, truncated, info = env.step(env.action_space.sample())
            ends.append((terminated, info.get("would_terminate", False)))
            if terminated or truncated:
                break
        return ends

    env = task.make_env(seed=0, fixed_horizon=True)
    ends = run(env)
    assert len(ends) == 300 and not any(t for t, _ in ends)  # ran on after falling
    assert any(fell for _, fell in ends)  # ... and says where it would have ended
    assert run(task.make_env(seed=0, evaluation=True, fixed_horizon=True))[-1][0]  # it falls
    assert run(task.make_env(seed=0))[-1][0]  # the default keeps terminations


def test_fixed_horizon_is_refused_on_tasks_that_end_on_success():
    for name in ("pointmaze-umaze", "parking", "merge", "fetch-push"):
        with pytest.raises(DiffilError, match="end on success"):
            get_task(name).check_fixed_horizon()
    # highway judges success at the time limit: only crashes end its episodes early
    highway = get_task("highway")
    assert highway.success_key and not highway.ends_on_success
    highway.check_fixed_horizon()


def test_task_families_import_without_the_registry_first():
    # the families build task specs and the registry collects them: no import cycle, so any
    # module can be imported first, and the built-in tasks exist once the registry is imported
    code = (
        "import diffil.envs.maze, diffil.envs.locomotion, diffil.envs.gymnasium_tasks\n"
        "from diffil.envs.registry import list_tasks\n"
        "assert {'hopper', 'pointmaze-umaze'} <= set(list_tasks())"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr

"""The manipulation and driving tasks: fetch-push and fetch-pick-and-place (and their MuJoCo
shim), highway, merge, parking (and the Dubins paths its expert plans)."""

from __future__ import annotations

import dataclasses
import sys

import gymnasium as gym
import mujoco
import numpy as np
import pytest

from diffil.envs import compat, get_task
from diffil.errors import DiffilError
from diffil.eval.evaluate import evaluate_policy
from diffil.experts import has_scripted_expert, make_expert

pytest.importorskip("highway_env")  # the `test` extra installs it


# --- the shim --------------------------------------------------------------------------------


def test_shim_makes_fetch_work_on_the_installed_mujoco(monkeypatch):
    from gymnasium_robotics.utils import mujoco_utils

    get_task("fetch-push").make_env().close()  # applies the shim where needed
    hinge = mujoco.mjtJoint.mjJNT_HINGE
    enum_equal = hinge == np.int32(int(hinge))  # enum on the left, numpy int on the right
    enum_bug = not enum_equal
    monkeypatch.setattr(mujoco_utils, "mujoco", mujoco)  # gymnasium-robotics as released
    if compat.joint_type_checks_fail():
        assert enum_bug  # the failure is the one the shim is for
        assert compat.patch_joint_type_checks.__wrapped__() is True
        assert not compat.joint_type_checks_fail()
    else:  # a release carries the fix, or MuJoCo compares enums both ways again
        assert compat.patch_joint_type_checks.__wrapped__() is False, (
            "the shim is a no-op here: remove diffil/envs/compat.py"
        )


# --- fetch-push, fetch-pick-and-place ----------------------------------------------------------

FETCH_TASKS = ["fetch-push", "fetch-pick-and-place"]


@pytest.mark.parametrize("name", FETCH_TASKS)
def test_fetch_task_steps_and_judges_success_at_the_end(name):
    task = get_task(name)
    assert (task.obs_dim, task.act_dim) == (28, 4) and task.success_key == "success"
    env = task.make_env(seed=0)
    obs, _ = env.reset(seed=0)
    steps = 0
    while True:
        obs, reward, terminated, truncated, info = env.step(np.zeros(4, np.float32))
        steps += 1
        if terminated or truncated:
            break
        assert info["success"] is False  # before the last step, whatever is_success says
    env.close()
    assert steps == 50 and obs.shape == (28,)
    assert info["success"] == bool(info["is_success"]) and reward in (-1.0, 0.0)


@pytest.mark.parametrize("name", FETCH_TASKS)
def test_fetch_expert_succeeds_and_the_episode_ends_there(name):
    task = get_task(name)
    assert has_scripted_expert(task)
    result = evaluate_policy(task, make_expert(task), episodes=4, seed=0)
    assert result["success_rate"] >= 3 / 4  # 100% over 100 episodes each (task_costs.md)
    # the episode ends at the first step with the block within 5 cm (reference 000's Push demos
    # end there too), not at the time limit
    assert result["length_mean"] < 50


@pytest.mark.parametrize("name", FETCH_TASKS)
def test_fetch_episode_is_terminated_on_success(name):
    task = get_task(name)
    env, expert = task.make_env(seed=0), make_expert(task)
    obs, _ = env.reset(seed=3)
    for _ in range(50):
        obs, _, terminated, truncated, info = env.step(expert(obs))
        if terminated or truncated:
            break
    env.close()
    assert terminated and not truncated and info["is_success"] and info["success"] is True


def test_pick_and_place_expert_lifts_the_block_to_a_goal_in_the_air():
    task = get_task("fetch-pick-and-place")
    env, expert = task.make_env(seed=0), make_expert(task)
    obs, _ = env.reset(seed=1)
    table_height = obs[5]
    assert obs[27] > table_height + 0.3  # this reset's goal: 37 cm above the block
    widths = []
    for _ in range(50):
        obs, _, terminated, truncated, info = env.step(expert(obs))
        widths.append(obs[9] + obs[10])
        if terminated or truncated:
            break
    env.close()
    assert terminated and info["success"] is True
    assert obs[5] > table_height + 0.25  # held up there, not pushed along the table
    assert max(widths) > 0.09 and 0.02 < widths[-1] < 0.06  # opened, then closed on the block


def test_fetch_noise_variants_collect_instead_of_using_the_shipped_demos():
    from diffil.datasets import shipped_demonstrations
    from diffil.experts.defaults import default_demonstrations

    shipped = shipped_demonstrations("fetch-push")  # made at noise 1.0
    assert default_demonstrations(get_task("fetch-push"), 10, False) == shipped is not None
    assert default_demonstrations(get_task("fetch-push", noise=1.5), 10, False) is None


def _block_and_goal_offsets(noise: float, resets: int = 40) -> np.ndarray:
    env = get_task("fetch-push", noise=noise).make_env()
    start = env.unwrapped.initial_gripper_xpos[:2]
    obs, _ = env.reset(seed=0)
    out = []
    for _ in range(resets):
        out += [obs[3:5] - start, obs[25:27] - start]
        obs, _ = env.reset()
    env.close()
    return np.abs(np.array(out))


def test_fetch_noise_scales_block_and_goal_ranges_on_the_table():
    default, wide = _block_and_goal_offsets(1.0), _block_and_goal_offsets(2.0)
    assert default.max() <= 0.15 + 1e-9
    assert wide.max() > 0.18 and wide.mean() > 1.4 * default.mean()
    table_far_edge = 1.55 - 0.025  # table0 spans x in [1.05, 1.55]; the block is 5 cm wide
    start_x = get_task("fetch-push").make_env().unwrapped.initial_gripper_xpos[0]
    env = get_task("fetch-push", noise=2.0).make_env()
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        assert obs[3] <= table_far_edge + 1e-9 and obs[25] <= table_far_edge + 1e-9
    env.close()
    assert start_x + 0.3 > table_far_edge  # without redraws, 2x noise would leave the table
    with pytest.raises(DiffilError, match=r">= 0\.75"):
        get_task("fetch-push", noise=0.5)


# --- driving ---------------------------------------------------------------------------------


def _short(name: str, steps: int):
    return dataclasses.replace(get_task(name), max_episode_steps=steps)


@pytest.mark.parametrize("name", ["highway", "merge"])
def test_driving_task_steps_with_continuous_actions(name):
    task = _short(name, 10)
    assert (task.obs_dim, task.act_dim) == (25, 2)
    assert get_task(name).max_episode_steps == 150
    env = task.make_env(seed=0)
    assert env.unwrapped.config["simulation_frequency"] == 10
    assert env.unwrapped.config["policy_frequency"] == 5
    env.reset(seed=0)
    _, reward, *_, info = env.step(np.array([0.2, 0.0], np.float32))
    assert np.isfinite(reward) and {"speed", "crashed", "on_road", "lane_change"} <= set(info)
    env.close()


def test_merge_needs_its_workarounds():
    """merge-v0 as released fails on a continuous action; diffil's ends at its time limit."""
    import highway_env  # noqa: F401

    with pytest.raises((ValueError, TypeError)):  # `action in [0, 2]` on an array
        # (making it resets it, and its reset info evaluates the reward terms)
        gym.make("merge-v0", config={"action": {"type": "ContinuousAction"}})
    env = _short("merge", 8).make_env(seed=0)
    env.reset(seed=0)
    for _ in range(8):
        *_, terminated, truncated, info = env.step(np.array([-1.0, 0.0], np.float32))
    assert truncated and not terminated and info["success"] is False  # stopped short of the end
    assert info["road_end"] is False
    env.close()


def test_highway_expert_drives_without_crashing():
    task = _short("highway", 25)
    result = evaluate_policy(task, make_expert(task), episodes=2, seed=0)
    assert result["length_mean"] == 25  # the time limit is the horizon, to the step
    assert result["success_rate"] == 1.0 and result["collision_mean"] == 0.0
    assert result["mean_speed_mean"] > 15.0  # m/s: it drives, it does not just stop


def test_merge_expert_reaches_the_end():
    task = get_task("merge")
    result = evaluate_policy(task, make_expert(task), episodes=2, seed=0)
    assert result["success_rate"] == 1.0 and result["collision_mean"] == 0.0
    assert result["length_mean"] < task.max_episode_steps  # it ended by reaching the end


def test_merge_truncates_at_the_road_end_and_terminates_on_leaving_the_road():
    """Success and failure never share an ending: the road's end truncates, off-road terminates."""
    task = get_task("merge")
    env = task.make_env(seed=0)
    expert = make_expert(task)
    expert.attach(env)
    obs, _ = env.reset(seed=0)
    terminated = truncated = False
    while not (terminated or truncated):
        obs, _, terminated, truncated, info = env.step(expert(obs))
    assert truncated and not terminated and info["road_end"] and info["success"]
    env.reset(seed=1)
    for _ in range(30):  # full steering: off the road within a few steps
        *_, terminated, truncated, info = env.step(np.array([0.0, 1.0], np.float32))
        if terminated or truncated:
            break
    assert terminated and not truncated and not info["success"] and not info["road_end"]
    env.close()


def test_driving_expert_needs_an_environment():
    expert = make_expert(get_task("highway"))
    with pytest.raises(DiffilError, match="attach"):
        expert(np.zeros(25))


def test_driving_tasks_refuse_noise_and_say_how_to_install(monkeypatch):
    with pytest.raises(DiffilError, match="do not apply"):
        get_task("merge", noise=1.5)
    monkeypatch.setitem(sys.modules, "highway_env", None)  # as if not installed
    with pytest.raises(DiffilError, match=r"pip install 'diffil\[driving\]'"):
        get_task("highway").make_env()


# --- parking ---------------------------------------------------------------------------------


def test_parking_task_is_goal_conditioned_with_continuous_actions():
    task = get_task("parking")
    assert (task.obs_dim, task.act_dim, task.max_episode_steps) == (12, 2, 200)
    env = _short("parking", 5).make_env(seed=0)
    obs, _ = env.reset(seed=0)
    assert obs[6:8] @ obs[6:8] > 0.1**2  # the goal spot (x, y / 100) is in the observation
    for _ in range(5):
        obs, reward, terminated, truncated, info = env.step(np.array([0.5, 0.0], np.float32))
    assert truncated and not terminated and info["success"] is False  # 5 steps: not parked
    assert np.isfinite(reward) and {"speed", "crashed"} <= set(info)
    assert "lane_change" not in info  # a parking lot has no lanes to change
    env.close()


def test_parking_expert_parks_without_crashing():
    task = get_task("parking")
    result = evaluate_policy(task, make_expert(task), episodes=4, seed=0)
    assert result["success_rate"] == 1.0 and result["collision_mean"] == 0.0
    assert result["length_mean"] < 0.6 * task.max_episode_steps  # it ended by parking
    assert "lane_changes_mean" not in result


def test_parking_expert_backs_out_of_the_wrong_approach():
    """Deep in the spot beside the goal's, facing the wall: any way forward would hit it, so it
    reverses."""
    from diffil.experts.parking import OBSERVATION_SCALES

    car = np.array([0.5, 15.0, 0.0, 0.0, 0.0, 1.0])  # x, y, vx, vy, cos h, sin h: facing north
    goal = np.array([-2.0, 14.0, 0.0, 0.0, 0.0, 1.0])  # the spot points north
    expert = make_expert(get_task("parking"))
    action = expert(np.concatenate([car, goal]) / np.tile(OBSERVATION_SCALES, 2))
    assert action[0] < 0  # accelerate backwards
    aligned = np.array([-2.0, 9.0, 0.0, 3.0 / 5, 0.0, 1.0])  # on the run-in, moving north
    action = expert(np.concatenate([aligned, goal]) / np.tile(OBSERVATION_SCALES, 2))
    assert action[0] >= 0 and abs(action[1]) < 0.05  # straight in


def test_dubins_paths_end_at_the_goal_pose():
    from diffil.experts.dubins import dubins_path, path_length, path_poses

    rng = np.random.default_rng(0)
    for _ in range(50):
        start, goal = rng.uniform(-20, 20, 3), rng.uniform(-20, 20, 3)
        segments = dubins_path(tuple(start), tuple(goal), radius=6.0)
        end = path_poses(tuple(start), segments, radius=6.0)[-1]
        assert np.allclose(end[:2], goal[:2], atol=1e-6)
        assert np.isclose(np.cos(end[2] - goal[2]), 1.0)
        assert path_length(segments) >= np.hypot(*(goal[:2] - start[:2])) - 1e-9
    straight = dubins_path((0.0, 0.0, 0.0), (10.0, 0.0, 0.0), radius=5.0)
    assert [letter for letter, length in straight if length > 1e-9] == ["S"]
    # a U-turn to a point beside the start: half a circle each way is the shortest way back
    u_turn = dubins_path((0.0, 0.0, 0.0), (0.0, 10.0, np.pi), radius=5.0)
    assert path_length(u_turn) == pytest.approx(np.pi * 5.0)

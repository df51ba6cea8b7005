"""Save/load round trips (npz, HDF5 file, Minari folder), atomic writes, and Minari interop."""

from __future__ import annotations

import os

import numpy as np
import pytest

from diffil.data import TrajectoryDataset, load_dataset, save_dataset
from diffil.errors import DiffilError

PATHS = ["demos.npz", "demos.hdf5", "demos_minari"]


def assert_same(a: TrajectoryDataset, b: TrajectoryDataset) -> None:
    assert len(a) == len(b)
    assert a.metadata == b.metadata
    for ta, tb in zip(a, b, strict=True):
        np.testing.assert_array_equal(ta.observations, tb.observations)
        np.testing.assert_array_equal(ta.actions, tb.actions)
        np.testing.assert_array_equal(ta.rewards, tb.rewards)
        np.testing.assert_array_equal(ta.terminations, tb.terminations)
        np.testing.assert_array_equal(ta.truncations, tb.truncations)
        assert ta.infos.keys() == tb.infos.keys()
        for key in ta.infos:
            np.testing.assert_array_equal(ta.infos[key], tb.infos[key])


@pytest.mark.parametrize("name", PATHS)
def test_round_trip(tmp_path, umaze_demos, name):
    path = save_dataset(umaze_demos, tmp_path / name)
    assert_same(umaze_demos, load_dataset(path))
    # no temporary files are left behind
    assert sorted(os.listdir(tmp_path)) == [name]


@pytest.mark.parametrize("name", ["demos.hdf5", "demos_minari"])
def test_minari_dataset_id_is_the_final_name_not_the_temporary_one(tmp_path, umaze_demos, name):
    from diffil.data.minari_format import read_metadata

    path = save_dataset(umaze_demos, tmp_path / name)
    assert read_metadata(path)["dataset_id"] == ("demos" if name.endswith(".hdf5") else name)


@pytest.mark.parametrize("name", PATHS)
def test_round_trip_without_rewards(tmp_path, umaze_copy, name):
    for traj in umaze_copy:
        traj.rewards = None
    back = load_dataset(save_dataset(umaze_copy, tmp_path / name))
    assert not back.has_rewards


@pytest.mark.parametrize("name", PATHS)
def test_existing_output_is_kept_unless_overwrite(tmp_path, umaze_demos, name):
    path = save_dataset(umaze_demos[:2], tmp_path / name)
    with pytest.raises(DiffilError, match="already exists"):
        save_dataset(umaze_demos, path)
    assert len(load_dataset(path)) == 2
    save_dataset(umaze_demos, path, overwrite=True)
    assert len(load_dataset(path)) == len(umaze_demos)


@pytest.mark.parametrize("name", PATHS)
def test_failed_write_leaves_existing_dataset_intact(tmp_path, umaze_demos, monkeypatch, name):
    from diffil.data import minari_format, npz_format

    path = save_dataset(umaze_demos[:2], tmp_path / name)

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(npz_format, "write_npz", explode)
    monkeypatch.setattr(minari_format, "write_hdf5_file", explode)
    monkeypatch.setattr(minari_format, "write_minari_dir", explode)
    with pytest.raises(RuntimeError, match="disk full"):
        save_dataset(umaze_demos, path, overwrite=True)
    assert len(load_dataset(path)) == 2
    assert sorted(os.listdir(tmp_path)) == [name]


def test_minari_reads_a_diffil_dataset(tmp_path, umaze_demos, monkeypatch):
    minari = pytest.importorskip("minari")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    save_dataset(umaze_demos, tmp_path / "pointmaze" / "umaze-diffil-v0")
    dataset = minari.load_dataset("pointmaze/umaze-diffil-v0")
    assert dataset.total_episodes == len(umaze_demos)
    assert dataset.total_steps == umaze_demos.num_transitions
    episodes = list(dataset.iterate_episodes())
    first = episodes[0]
    np.testing.assert_array_equal(
        first.observations["observation"], umaze_demos[0].observations[:, :4]
    )
    np.testing.assert_array_equal(
        first.observations["desired_goal"], umaze_demos[0].observations[:, 4:]
    )
    np.testing.assert_array_equal(first.actions, umaze_demos[0].actions)
    # the recorded environment is the real PointMaze, and its observations fit the data
    env = dataset.recover_environment()
    assert env.spec.id == "PointMaze_UMaze-v3"
    assert env.observation_space.contains({k: v[0] for k, v in first.observations.items()})


def _record_with_minari(tmp_path, monkeypatch, env_id, policy, episodes, dataset_id):
    import gymnasium as gym
    import minari

    from diffil.envs.maze import _register_gymnasium_robotics

    _register_gymnasium_robotics()
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    kwargs = {"continuing_task": False, "max_episode_steps": 300} if "Maze" in env_id else {}
    # Hopper's reset info has other keys than its step infos, which Minari cannot record.
    env = minari.DataCollector(gym.make(env_id, **kwargs), record_infos="Maze" in env_id)
    raw_obs = []
    obs, _ = env.reset(seed=0)
    for _ in range(episodes):
        episode = [obs]
        done = False
        while not done:
            obs, _, terminated, truncated, _ = env.step(policy(obs))
            episode.append(obs)
            done = terminated or truncated
        raw_obs.append(episode)
        obs, _ = env.reset()
    env.create_dataset(
        dataset_id=dataset_id,
        eval_env=env.spec,  # the recording env (without it Minari warns that it assumes so)
        algorithm_name="test",
        author="diffil tests",
        author_email="none",
        code_permalink="none",
        description="test data",
    )
    return tmp_path / dataset_id, raw_obs


def test_diffil_reads_a_minari_recorded_maze_dataset(tmp_path, monkeypatch):
    pytest.importorskip("minari")
    from diffil.envs import get_task
    from diffil.envs.maze import flatten_goal_observation
    from diffil.experts import make_expert

    expert = make_expert(get_task("pointmaze-umaze"))
    path, raw = _record_with_minari(
        tmp_path,
        monkeypatch,
        "PointMaze_UMaze-v3",
        lambda o: expert.act(flatten_goal_observation(o)),
        3,
        "pointmaze/umaze-recorded-v0",
    )
    demos = load_dataset(path)  # task found from the recorded env spec
    assert demos.task == "pointmaze-umaze" and len(demos) == 3
    assert demos.obs_dim == 6
    expected = np.stack([flatten_goal_observation(o) for o in raw[1]])
    np.testing.assert_allclose(demos[1].observations, expected)
    assert demos.statistics()["success_rate"] == 1.0  # infos (success) come through
    assert demos[1].terminated


def test_diffil_reads_a_minari_recorded_locomotion_dataset(tmp_path, monkeypatch):
    pytest.importorskip("minari")
    rng = np.random.default_rng(0)
    path, raw = _record_with_minari(
        tmp_path,
        monkeypatch,
        "Hopper-v5",
        lambda o: rng.uniform(-1, 1, 3).astype(np.float32),
        2,
        "mujoco/hopper-random-v0",
    )
    demos = load_dataset(path / "data", task="hopper")
    assert demos.obs_dim == 11 and demos.act_dim == 3 and len(demos) == 2
    np.testing.assert_allclose(demos[0].observations, np.stack(raw[0]))

"""`diffil augment`: synthetic episodes from a trajectory diffusion model, checked against the
simulator, flagged per episode and in provenance."""

from __future__ import annotations

import copy
import hashlib
import json

import numpy as np
import pytest

from diffil.cli import main
from diffil.data import TrajectoryDataset, load_dataset, save_dataset
from diffil.datasets import shipped_demonstrations
from diffil.envs.registry import get_task
from diffil.envs.state import Replayer, state_setter
from diffil.errors import DiffilError
from diffil.planning.augment import AugmentConfig, augment_dataset, dynamics_error, state_scale

TINY = {"channels": (8, 16), "diffusion_steps": 3, "train_steps": 3, "horizon": 16}


@pytest.fixture(scope="module")
def cheetah_short() -> TrajectoryDataset:
    """Three 20-step pieces of the shipped halfcheetah demonstrations (a task that never
    terminates, so untrained models' episodes end only at their length)."""
    shipped = load_dataset(shipped_demonstrations("halfcheetah"))
    pieces = [shipped[e].slice(0, 20) for e in range(3)]
    return TrajectoryDataset(pieces, copy.deepcopy(shipped.metadata))


@pytest.fixture(scope="module")
def hopper_piece() -> TrajectoryDataset:
    shipped = load_dataset(shipped_demonstrations("hopper"))
    return TrajectoryDataset([shipped[0].slice(0, 60)], copy.deepcopy(shipped.metadata))


def _perturbed(observations: np.ndarray, scale: np.ndarray, dim: int) -> np.ndarray:
    bad = observations.copy()
    bad[len(bad) // 2, dim] += 2.0 * scale[dim]
    return bad


def test_dynamics_check_passes_real_maze_demos_and_rejects_perturbed_states(umaze_demos):
    scale = state_scale(umaze_demos)
    with Replayer(get_task("pointmaze-umaze")) as replayer:
        for traj in umaze_demos[:3]:
            assert dynamics_error(replayer, traj.observations, traj.actions, scale) < 1e-6
            for dim in (0, 3, 4):  # a position, a velocity, the goal
                bad = _perturbed(traj.observations, scale, dim)
                assert dynamics_error(replayer, bad, traj.actions, scale) >= 1.9


def test_dynamics_check_on_locomotion_sets_state_without_x(hopper_piece):
    traj = hopper_piece[0]
    scale = state_scale(hopper_piece)
    with Replayer(get_task("hopper")) as replayer:
        assert dynamics_error(replayer, traj.observations, traj.actions, scale) < 1e-6
        for dim in (1, 7):  # torso angle, a velocity
            bad = _perturbed(traj.observations, scale, dim)
            assert dynamics_error(replayer, bad, traj.actions, scale) >= 1.9


def test_task_whose_state_cannot_be_set_is_one_line():
    task = get_task("gym:Pendulum-v1")
    env = task.make_env()
    try:
        with pytest.raises(DiffilError, match="cannot set the simulator state") as err:
            state_setter(task, env)
    finally:
        env.close()
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("suffix", [".npz", ".hdf5"])
def test_augmented_dataset_round_trips_with_its_flags(tmp_path, cheetah_short, suffix):
    task = get_task("halfcheetah")
    config = AugmentConfig(factor=2, tolerance=1e9, **TINY)
    augmented, report = augment_dataset(cheetah_short, task, config)
    assert (report.real, report.generated, report.kept) == (3, 6, 6) and report.rejected == {}
    path = save_dataset(augmented, tmp_path / f"aug{suffix}")
    loaded = load_dataset(path, task="halfcheetah")  # validates
    assert [t.synthetic for t in loaded] == [False] * 3 + [True] * 6
    assert loaded.statistics()["synthetic_episodes"] == 6
    meta = loaded.metadata["augmentation"]
    assert meta["generator"]["train_steps"] == 3 and meta["factor"] == 2
    assert (meta["generated"], meta["kept"], meta["rejected"]) == (6, 6, {})
    assert meta["tolerance"] == 1e9 and loaded.metadata["episodes"] == 9
    scale = state_scale(cheetah_short)
    with Replayer(task) as replayer:
        for real, synthetic in zip(loaded[:3], loaded[3:6], strict=True):
            assert len(synthetic) == len(real) == 20 and synthetic.truncations[-1]
            assert np.allclose(synthetic.observations[0], real.observations[0])
            # the stored states are the simulator's: replaying the actions reproduces them
            error = dynamics_error(replayer, synthetic.observations, synthetic.actions, scale)
            assert error < 1e-6
            assert synthetic.rewards is not None and np.isfinite(synthetic.rewards).all()


def test_synthetic_episodes_can_start_at_fresh_resets(cheetah_short):
    """``starts="resets"``: episodes begin at the task's own resets, not at the demos' starts,
    and still obey the simulator; the choice is recorded, and a wrong one is one line."""
    task = get_task("halfcheetah")
    config = AugmentConfig(factor=2, tolerance=1e9, starts="resets", **TINY)
    augmented, report = augment_dataset(cheetah_short, task, config)
    assert report.kept == 6 and augmented.metadata["augmentation"]["starts"] == "resets"
    assert augmented.metadata["augmentation"]["generator"]["condition_on_start"]
    real_starts = np.stack([t.observations[0] for t in cheetah_short])
    scale = state_scale(cheetah_short)
    with Replayer(task) as replayer:
        for synthetic in augmented[3:]:
            assert np.abs(real_starts - synthetic.observations[0]).max(axis=1).min() > 1e-6
            error = dynamics_error(replayer, synthetic.observations, synthetic.actions, scale)
            assert error < 1e-6
    with pytest.raises(DiffilError, match="starts must be one of demos, resets"):
        AugmentConfig(starts="middle").check()


def test_plans_the_simulator_does_not_follow_are_rejected_as_diverged(cheetah_short):
    config = AugmentConfig(factor=1, tolerance=1e-6, **TINY)
    augmented, report = augment_dataset(cheetah_short, get_task("halfcheetah"), config)
    assert report.kept == 0 and report.rejected == {"diverged": 3}
    assert len(augmented) == 3 and not any(t.synthetic for t in augmented)
    assert min(report.errors) > 1e-6


def test_datasets_without_flags_are_all_real(umaze_demos):
    assert not any(t.synthetic for t in umaze_demos)
    assert "synthetic_episodes" not in umaze_demos.statistics()


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cli_reports_progress_and_counts_and_info_shows_them(tmp_path, capsys, cheetah_short):
    demos = save_dataset(cheetah_short, tmp_path / "demos.npz")
    before = _digest(demos)
    out = tmp_path / "aug.hdf5"
    args = ["augment", str(demos), "--factor", "1", "--out", str(out), "--steps", "2"]
    assert main([*args, "--tolerance", "1e9", "--episodes", "2"]) == 0
    text = capsys.readouterr().out
    assert "training: step 2/2, loss" in text and "sampling:" in text and "checking:" in text
    assert "generated 2 synthetic episodes from 2 real ones" in text and "kept 2" in text
    assert _digest(demos) == before
    assert main(["data", "info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["statistics"]["synthetic_episodes"] == 2 and info["statistics"]["episodes"] == 4
    assert info["metadata"]["augmentation"]["source"] == str(demos)
    assert info["metadata"]["augmentation"]["starts"] == "demos"
    assert main([*args, "--tolerance", "1e9", "--starts", "resets", "--overwrite"]) == 0
    assert load_dataset(out).metadata["augmentation"]["starts"] == "resets"


def _one_line_error(capsys, args: list[str], *phrases: str) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("diffil: error: "), err
    for phrase in phrases:
        assert phrase in err[0], err[0]


def test_cli_refuses_to_write_over_demos_or_an_existing_output(tmp_path, capsys, cheetah_short):
    demos = save_dataset(cheetah_short, tmp_path / "demos.npz")
    before = _digest(demos)
    for extra in ([], ["--overwrite"]):
        _one_line_error(capsys, ["augment", str(demos), "--out", str(demos), *extra], "own file")
    other = save_dataset(cheetah_short, tmp_path / "other.npz")
    _one_line_error(capsys, ["augment", str(demos), "--out", str(other)], "already exists")
    assert _digest(demos) == before


def test_cli_bad_inputs_are_one_line(tmp_path, capsys, cheetah_short):
    demos = save_dataset(cheetah_short, tmp_path / "demos.npz")
    out = str(tmp_path / "aug.npz")
    _one_line_error(capsys, ["augment", str(demos), "--out", out, "--factor", "0"], "factor")
    _one_line_error(capsys, ["augment", str(demos), "--out", out, "--task", "no-such-task"])
    _one_line_error(capsys, ["augment", str(demos), "--out", out, "--episodes", "9"], "1..3")
    flagged = augment_dataset(
        cheetah_short, get_task("halfcheetah"), AugmentConfig(factor=1, tolerance=1e9, **TINY)
    )[0]
    again = save_dataset(flagged, tmp_path / "flagged.npz")
    _one_line_error(capsys, ["augment", str(again), "--out", out], "synthetic")
    assert not (tmp_path / "aug.npz").exists()

"""Every bad input gives one clear line (``diffil: error: <file>: <what>; <fix>``), exit code 2,
and leaves files that already exist untouched."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from diffil.cli import main
from diffil.data import Trajectory, TrajectoryDataset, save_dataset
from diffil.data.npz_format import write_npz


def run_cli(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.err


def assert_one_line_error(code: int, err: str, where: str | None, *phrases: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    prefix = "diffil: error: " + (f"{where}: " if where else "")
    assert lines[0].startswith(prefix), lines[0]
    assert "; " in lines[0]  # what is wrong; what to do
    for phrase in phrases:
        assert phrase in lines[0], lines[0]


def digest(path: Path) -> str:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


def write_unchecked(dataset: TrajectoryDataset, path: Path) -> Path:
    """Write without validation, as a foreign tool might."""
    write_npz(dataset, path)
    return path


def traj(n=5, obs_dim=6, act_dim=2, **overrides):
    fields = dict(
        observations=np.zeros((n + 1, obs_dim)),
        actions=np.zeros((n, act_dim)),
        rewards=np.zeros(n),
    )
    fields.update(overrides)
    return Trajectory(**fields)


@pytest.mark.parametrize(
    ("make", "phrases"),
    [
        (lambda: traj(obs_dim=5), ["5 dims", "'pointmaze-umaze' has 6"]),
        (lambda: traj(act_dim=3), ["actions 3", "'pointmaze-umaze' has 6 and 2"]),
        (lambda: traj(observations=np.full((6, 6), np.nan)), ["NaN"]),
        (lambda: traj(actions=np.array([[0, 0]] * 4 + [[np.inf, 0]])), ["infinite", "step 4"]),
        (lambda: traj(observations=np.zeros((5, 6))), ["5 actions and 5 observations"]),
        (lambda: traj(rewards=np.zeros(3)), ["rewards has 3 entries for 5 steps"]),
    ],
    ids=["obs-shape", "action-shape", "nan", "inf", "obs-count", "reward-count"],
)
def test_malformed_datasets(tmp_path, capsys, make, phrases):
    path = write_unchecked(TrajectoryDataset([make()]), tmp_path / "bad.npz")
    code, err = run_cli(capsys, "data", "info", str(path), "--task", "pointmaze-umaze")
    assert_one_line_error(code, err, str(path), *phrases)


def test_empty_dataset(tmp_path, capsys):
    path = tmp_path / "empty.npz"
    np.savez(
        path,
        episode_lengths=np.zeros(0, int),
        observations=np.zeros((0, 6)),
        actions=np.zeros((0, 2)),
    )
    code, err = run_cli(capsys, "data", "info", str(path))
    assert_one_line_error(code, err, str(path), "no episodes")


def test_npz_lengths_that_do_not_add_up(tmp_path, capsys):
    path = tmp_path / "lengths.npz"
    np.savez(
        path, episode_lengths=np.array([5]), observations=np.zeros((4, 6)), actions=np.zeros((5, 2))
    )
    code, err = run_cli(capsys, "data", "info", str(path))
    assert_one_line_error(code, err, str(path), "episode lengths sum to 5")


@pytest.mark.parametrize("name", ["demos.npz", "demos.hdf5"])
def test_truncated_file(tmp_path, capsys, umaze_demos, name):
    path = save_dataset(umaze_demos, tmp_path / name)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    code, err = run_cli(capsys, "data", "info", str(path))
    assert_one_line_error(code, err, str(path), "corrupt or truncated")


@pytest.mark.parametrize("name", ["junk.npz", "junk.hdf5"])
def test_corrupt_file(tmp_path, capsys, name):
    path = tmp_path / name
    path.write_bytes(b"definitely not a dataset\n" * 20)
    code, err = run_cli(capsys, "data", "info", str(path))
    assert_one_line_error(code, err, str(path), "corrupt or truncated")


def test_corrupt_minari_metadata(tmp_path, capsys, umaze_demos):
    path = save_dataset(umaze_demos, tmp_path / "demos")
    (path / "data" / "metadata.json").write_text("{ not json")
    code, err = run_cli(capsys, "data", "info", str(path))
    assert_one_line_error(code, err, str(path), "corrupt or truncated")


def test_missing_file(tmp_path, capsys):
    code, err = run_cli(capsys, "data", "plot", str(tmp_path / "nope.npz"))
    assert_one_line_error(code, err, str(tmp_path / "nope.npz"), "no such file")


def test_unknown_task(tmp_path, capsys):
    code, err = run_cli(
        capsys,
        "collect",
        "--task",
        "pointmaze-huge",
        "--episodes",
        "1",
        "--out",
        str(tmp_path / "x.npz"),
    )
    assert_one_line_error(code, err, None, "unknown task 'pointmaze-huge'", "known tasks:")
    assert not (tmp_path / "x.npz").exists()


@pytest.mark.parametrize("name", ["demos.npz", "demos.hdf5", "demos"])
def test_collect_never_clobbers_an_existing_dataset(tmp_path, capsys, umaze_demos, name):
    path = save_dataset(umaze_demos, tmp_path / name)
    before = digest(path)
    code, err = run_cli(
        capsys, "collect", "--task", "pointmaze-umaze", "--episodes", "2", "--out", str(path)
    )
    assert_one_line_error(code, err, str(path), "already exists", "--overwrite")
    assert digest(path) == before


def test_saving_invalid_data_over_a_dataset_keeps_the_old_one(tmp_path, umaze_demos):
    from diffil.errors import DiffilError

    path = save_dataset(umaze_demos, tmp_path / "demos.hdf5")
    before = digest(path)
    bad = TrajectoryDataset([traj(observations=np.full((6, 6), np.nan))])
    with pytest.raises(DiffilError, match="NaN"):
        save_dataset(bad, path, overwrite=True)
    assert digest(path) == before


def test_bad_variant_values_are_clear(tmp_path, capsys):
    code, err = run_cli(
        capsys,
        "collect",
        "--task",
        "hopper",
        "--coverage",
        "0.5",
        "--episodes",
        "1",
        "--out",
        str(tmp_path / "x.npz"),
    )
    assert_one_line_error(code, err, None, "coverage applies to maze tasks only")


def test_validation_checks_observation_count_before_writing(tmp_path):
    from diffil.errors import DiffilError

    bad = TrajectoryDataset([traj(observations=np.zeros((5, 6)))])
    with pytest.raises(DiffilError, match="5 observations for 5 actions"):
        save_dataset(bad, tmp_path / "x.hdf5")
    assert not (tmp_path / "x.hdf5").exists()

"""Corrupt files never give a traceback: random truncations and byte flips of valid datasets
(.npz, .hdf5, Minari folders) and run directories (config.yaml, checkpoint files, policy.pt)
either still load as a valid dataset / run, or raise one :class:`DiffilError`; the CLI prints
one line and exits 2.

The CI versions draw a few dozen corrupted files per format; the ``slow`` versions draw
``SLOW_EXAMPLES`` per format (``pytest -m slow tests/test_fuzz_files.py``).
"""

from __future__ import annotations

import io
import shutil
import tempfile
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diffil.algorithms.config import read_run_config
from diffil.algorithms.run import train, trainer_for
from diffil.cli import main
from diffil.data import load_dataset, save_dataset, validate_dataset
from diffil.errors import DiffilError
from diffil.policy import Policy
from diffil.runs.run_dir import RunDirectory

CI_EXAMPLES = 25  # per format; the whole file runs in about 25 s on two cores
SLOW_EXAMPLES = 500
FAST = settings(
    max_examples=CI_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SLOW = settings(FAST, max_examples=SLOW_EXAMPLES)

# A dataset format: (path of the dataset under its folder, file inside it to corrupt).
DATASETS = {
    "npz": ("demos.npz", ""),
    "hdf5": ("demos.hdf5", ""),
    "minari-hdf5": ("demos", "data/main_data.hdf5"),
    "minari-metadata": ("demos", "data/metadata.json"),
}
# What a run directory holds, by part: (run made by the `runs` fixture, file inside it).
RUN_PARTS = {
    "config": [("diffusion-policy", "config.yaml"), ("gail", "config.yaml")],
    "checkpoint": [
        ("diffusion-policy", "checkpoints/latest/state.json"),
        ("diffusion-policy", "checkpoints/latest/learner.pt"),
        ("diffusion-policy", "checkpoints/latest/torch_rng.pt"),
        ("gail", "checkpoints/latest/reward_model.pt"),
        ("gail", "checkpoints/latest/ppo.zip"),
    ],
    "policy": [("diffusion-policy", "policy.pt"), ("gail", "policy.pt")],
    "eval": [("gail", "eval.json"), ("gail", "metrics.csv")],
}
RUN_SETTINGS = {
    "diffusion-policy": {
        "num_demos": 4,
        "bc": {"steps": 10, "batch_size": 16},
        "generative": {
            "hidden": [16, 16],
            "time_embed_dim": 8,
            "diffusion_steps": 10,
            "sample_steps": 5,
        },
        "eval": {"episodes": 1, "final_episodes": 1},
    },
    "gail": {
        "n_envs": 1,
        "num_demos": 4,
        "checkpoint_every": 64,
        "ppo": {"n_steps": 64, "batch_size": 64, "n_epochs": 1, "net_arch": [8, 8]},
        "reward": {"updates_per_rollout": 1, "batch_size": 16, "model": {"hidden": [8, 8]}},
        "eval": {"every": 10**9, "episodes": 1, "final_episodes": 1},
    },
}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory, umaze_demos) -> Path:
    """One small valid dataset in every format."""
    root = tmp_path_factory.mktemp("datasets")
    small = umaze_demos.subset(num_trajectories=2)
    for name, _ in DATASETS.values():
        if not (root / name).exists():
            save_dataset(small, root / name)
    return root


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Two tiny finished runs: an offline one (diffusion policy) and an online one (GAIL)."""
    root = tmp_path_factory.mktemp("runs")
    for method, overrides in RUN_SETTINGS.items():
        steps = 64 if method == "gail" else None
        train(
            method,
            "pointmaze-umaze",
            out=root / method,
            steps=steps,
            overrides=overrides,
            progress=False,
        )
    return root


@st.composite
def corrupted(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` cut short, or with 1 to 8 bytes replaced."""
    if draw(st.booleans()):
        return data[: draw(st.integers(0, len(data) - 1))]
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        out[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(out)


def run_cli(*args: str) -> tuple[int, str]:
    """Exit status and stderr of ``diffil ARGS``, with any warning written there as Python
    would (one more line)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        code = main(list(args))
    return code, err.getvalue() + "".join(f"{w.category.__name__}: {w.message}\n" for w in seen)


def assert_success_or_one_line(code: int, err: str) -> None:
    assert "Traceback" not in err, err
    if code != 0:
        lines = err.strip().splitlines()
        assert code == 2, err
        assert len(lines) == 1 and lines[0].startswith("diffil: error: "), err


def corrupt_copy(source: Path, inner: str, draw: st.DrawFn, work: Path) -> Path:
    """A copy of ``source`` (file or folder) in ``work`` with ``inner`` (or itself) corrupted."""
    copy = work / source.name
    if source.is_dir():
        shutil.copytree(source, copy)
    else:
        shutil.copyfile(source, copy)
    target = copy / inner if inner else copy
    target.write_bytes(draw(corrupted(target.read_bytes())))
    return copy


def check_dataset(datasets: Path, fmt: str, data: st.DataObject) -> None:
    name, inner = DATASETS[fmt]
    with tempfile.TemporaryDirectory() as work:
        path = corrupt_copy(datasets / name, inner, data.draw, Path(work))
        try:
            dataset = load_dataset(path)
        except DiffilError as err:
            assert "\n" not in str(err) and str(path) in str(err)
        else:
            validate_dataset(dataset)
            assert dataset.statistics()["episodes"] == len(dataset) > 0
        assert_success_or_one_line(*run_cli("data", "info", str(path)))


def check_run(runs: Path, part: str, data: st.DataObject) -> None:
    """Read the corrupted part of a run as the commands do: the Python call succeeds or raises
    DiffilError, and the command (which checks the same) prints one line."""
    method, inner = data.draw(st.sampled_from(RUN_PARTS[part]))
    with tempfile.TemporaryDirectory() as work:
        path = corrupt_copy(runs / method, inner, data.draw, Path(work))
        run = RunDirectory.open(path)
        try:
            if part == "config":
                try:  # what resuming does before it trains
                    trainer_for(read_run_config(run), run, progress=False)
                finally:
                    torch.set_num_threads(1)  # a corrupt config may have changed `threads`
            elif part == "policy":
                Policy.load(run.policy_path)
            elif part == "eval":
                assert isinstance(run.read_eval(), dict)
                assert isinstance(run.read_metrics(), list)
        except DiffilError as err:
            assert "\n" not in str(err)
        if part == "policy":
            command = ["eval", str(path), "--episodes", "1"]
        elif part == "checkpoint":  # the resume of a finished run: load, evaluate, save
            command = ["train", "--resume", str(path), "--quiet"]
        else:  # a corrupt config could ask for a long resume: read it the way compare does
            command = ["compare", str(path)]
        assert_success_or_one_line(*run_cli(*command))


@pytest.mark.parametrize("fmt", DATASETS)
@FAST
@given(data=st.data())
def test_corrupt_dataset_loads_or_is_one_error(datasets, fmt, data):
    check_dataset(datasets, fmt, data)


@pytest.mark.parametrize("part", RUN_PARTS)
@FAST
@given(data=st.data())
def test_corrupt_run_file_loads_or_is_one_error(runs, part, data):
    check_run(runs, part, data)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", DATASETS)
@SLOW
@given(data=st.data())
def test_many_corrupt_datasets(datasets, fmt, data):
    check_dataset(datasets, fmt, data)


@pytest.mark.slow
@pytest.mark.parametrize("part", RUN_PARTS)
@SLOW
@given(data=st.data())
def test_many_corrupt_run_files(runs, part, data):
    check_run(runs, part, data)

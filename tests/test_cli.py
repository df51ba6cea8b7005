"""The ``diffil`` command and the Python API it mirrors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

import diffil
from diffil.cli import main


def test_collect_info_plot(tmp_path, capsys):
    out = tmp_path / "demos.hdf5"
    args = ["collect", "--task", "pointmaze-medium", "--episodes", "4", "--seed", "7"]
    assert main([*args, "--out", str(out)]) == 0
    assert "success 100.0%" in capsys.readouterr().out
    assert main(["data", "info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["statistics"]["episodes"] == 4
    meta = info["metadata"]
    for key in (
        "task",
        "env_id",
        "expert",
        "seed",
        "diffil_version",
        "success_rate",
        "return_mean",
        "length_mean",
        "env_versions",
    ):
        assert key in meta, key
    assert meta["task"] == "pointmaze-medium" and meta["seed"] == 7
    png = tmp_path / "demos.png"
    assert main(["data", "plot", str(out), "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_python_api_matches_cli(tmp_path):
    via_api = diffil.collect("pointmaze-umaze", episodes=3, seed=5, out=tmp_path / "a.npz")
    assert (
        main(
            [
                "collect",
                "-t",
                "pointmaze-umaze",
                "--episodes",
                "3",
                "--seed",
                "5",
                "--out",
                str(tmp_path / "b.npz"),
            ]
        )
        == 0
    )
    via_cli = diffil.load_dataset(tmp_path / "b.npz")
    for a, b in zip(via_api, via_cli, strict=True):
        np.testing.assert_array_equal(a.observations, b.observations)


def test_quickstart_makes_data_trains_and_compares(tmp_path, capsys):
    # a short BC warm start and 20 final episodes instead of the maze's 100 (the test's 45 s
    # went to those two; the runs' success is not what it checks)
    fast = {"bc": {"steps": 500}, "eval": {"final_episodes": 20}}
    info = diffil.quickstart(
        tmp_path, episodes=5, steps=2048, methods=("gail",), progress=False, overrides=fast
    )
    assert info["statistics"]["success_rate"] == 1.0
    demos = diffil.load_dataset(tmp_path / "pointmaze-umaze-5.hdf5")
    assert len(demos) == 5 and demos.task == "pointmaze-umaze"
    # reference 000's maze protocol by default: noisy expert, successful episodes, half the cells
    assert demos.metadata["action_noise"] == 0.5 and demos.metadata["successful_only"]
    assert demos.metadata["variant"]["coverage"] == 0.5
    run_config = (tmp_path / "runs" / "gail" / "config.yaml").read_text()
    assert "coverage: 0.5" in run_config  # the demonstrations' cells; training uses every cell
    assert "train_on_covered_cells: false" in run_config
    assert "final_episodes: 20" in run_config  # the overrides reach every run
    assert (tmp_path / "pointmaze-umaze-5.png").stat().st_size > 10_000
    assert (tmp_path / "learning_curves.png").stat().st_size > 10_000
    assert "| gail | pointmaze-umaze |" in info["comparison"]
    assert (tmp_path / "comparison.md").read_text().startswith("| method |")
    # compare from the command line, on the run the quickstart made
    assert (
        main(["compare", str(tmp_path / "runs" / "gail"), "--plot", str(tmp_path / "c.png")]) == 0
    )
    assert "| gail | pointmaze-umaze |" in capsys.readouterr().out
    png = (tmp_path / "c.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_quickstart_set_refuses_a_bad_setting_before_collecting(tmp_path, capsys):
    out = tmp_path / "qs"
    assert main(["quickstart", "--out", str(out), "--set", "ppo.n_stepz=64"]) == 2
    assert "n_stepz" in capsys.readouterr().err
    assert not out.exists()


def test_console_script_runs_as_a_process(tmp_path, capsys):
    result = subprocess.run(
        [sys.executable, "-m", "diffil.cli", "data", "info", str(tmp_path / "missing.npz")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("diffil: error:") and "Traceback" not in result.stderr
    assert main(["tasks"]) == 0
    assert "Hopper-v5" in capsys.readouterr().out


def test_tasks_keeps_names_whole_at_80_columns_and_mentions_gym(monkeypatch, capsys):
    from diffil.cli.common import console
    from diffil.envs.registry import list_tasks

    monkeypatch.setattr(console, "width", 80)
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    assert "…" not in out
    for name in list_tasks():
        assert f" {name} " in out, name
    assert "gym:ENV_ID" in out


def test_collect_without_expert_points_to_shipped_demonstrations(tmp_path, capsys):
    from diffil.datasets import shipped_demonstrations
    from diffil.utils.paths import shown_path

    out = tmp_path / "hopper.hdf5"
    assert main(["collect", "--task", "hopper", "--episodes", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("diffil: error: task 'hopper' has no scripted expert") and "\n" not in err
    assert shown_path(shipped_demonstrations("hopper")) in err
    assert "--expert RUN" in err and "diffil expert train --task hopper" in err
    assert not out.exists()
    # a gymnasium id ships nothing: the error says only how to get an expert
    assert main(["collect", "--task", "gym:Pendulum-v1", "--episodes", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "ships" not in err and "--expert" in err

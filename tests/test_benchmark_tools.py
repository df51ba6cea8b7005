"""The tools that write benchmark results: notes by hand survive a rewrite; learning curves
are read from runs' metrics.csv, finished or not."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
from benchmarks import learning_curves, report

from diffil.envs.registry import get_task
from diffil.utils.provenance import HAND_NOTES, machine


@pytest.fixture
def results_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    out = tmp_path / "results"
    monkeypatch.setattr(report, "RESULTS", out)
    return out


def test_a_rewritten_result_keeps_the_notes_written_by_hand(results_dir: Path) -> None:
    path = report.write_result("bench", "Bench", "| a |\n|---|\n| 1 |", {"a": 1}, "generated")
    path.write_text(path.read_text() + f"\n{HAND_NOTES}\n\nSeed 0 was resumed at 150k.\n")

    report.write_result("bench", "Bench", "| a |\n|---|\n| 2 |", {"a": 2}, "generated")

    text = path.read_text()
    assert "| 2 |" in text and "| 1 |" not in text
    assert text.count("Seed 0 was resumed at 150k.") == 1
    assert text.index("generated") < text.index(HAND_NOTES)
    assert json.loads((results_dir / "bench.json").read_text())["a"] == 2


def test_a_result_without_notes_by_hand_is_rewritten_whole(results_dir: Path) -> None:
    path = report.write_result("bench", "Bench", "| a |\n|---|\n| 1 |", {}, "first notes")
    report.write_result("bench", "Bench", "| a |\n|---|\n| 2 |", {}, "second notes")
    text = path.read_text()
    assert "first notes" not in text and "second notes" in text
    assert HAND_NOTES not in text


def test_the_machine_line_names_the_gpu_only_where_torch_sees_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert "GPU" not in machine()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Example GPU")
    assert "cores, GPU Example GPU, " in machine()


def write_run(run: Path, evaluations: dict[int, float], every: int = 1000) -> Path:
    """A run directory whose metrics.csv logs training rows and, at some steps, an evaluation."""
    run.mkdir(parents=True)
    last = max(evaluations)
    with (run / "metrics.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["env_steps", "train_return", "eval_return"])
        writer.writeheader()
        for step in range(every, last + every, every):
            value = evaluations.get(step)
            writer.writerow(
                {
                    "env_steps": step,
                    "train_return": 1.0,
                    "eval_return": "" if value is None else value,
                }
            )
    return run


def test_learning_curves_tabulate_unfinished_runs_normalised(
    tmp_path: Path, results_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = get_task("hopper").reference
    assert ref is not None

    def expert(fraction: float) -> float:
        return ref.random_return + fraction * (ref.expert_return - ref.random_return)

    fast = write_run(tmp_path / "fast", {2000: expert(0.5), 4000: expert(0.95), 6000: expert(1.0)})
    slow = write_run(tmp_path / "slow", {2000: expert(0.1), 4000: expert(0.3)})  # stopped early
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "learning_curves",
            *("--name", "curves", "--title", "Curves", "--task", "hopper"),
            *("--metric", "eval_return", "--at", "2000", "4000", "6000"),
            *("--group", f"SAC={fast} {slow}"),
        ],
    )
    learning_curves.main()

    data = json.loads((results_dir / "curves.json").read_text())["SAC"]
    assert data["at"]["2000"] == [[2000, pytest.approx(0.5)], [2000, pytest.approx(0.1)]]
    assert data["at"]["6000"] == [[6000, pytest.approx(1.0)], None]
    assert data["first_reaching"] == [4000, None]
    assert data["last_logged"] == [6000, 4000]
    row = next(
        line
        for line in (results_dir / "curves.md").read_text().splitlines()
        if line.startswith("| SAC")
    )
    assert "| 0.30 (0.50, 0.10) |" in row  # median over the two runs, then each run
    assert "4,000, not reached" in row


def test_learning_curves_reject_a_directory_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match=r"no metrics\.csv"):
        learning_curves.parse_group(f"SAC={tmp_path}")
    with pytest.raises(SystemExit, match="LABEL=RUN_DIR"):
        learning_curves.parse_group(str(tmp_path))


def test_driving_report_only_reads_finished_runs_and_trains_nothing(tmp_path: Path) -> None:
    from benchmarks import driving_imitation

    finished = tmp_path / "parking-bc-s0"
    finished.mkdir()
    found = {"episodes": 20, "success_rate": 0.45, "collision_mean": 0.1, "mean_speed_mean": 2.0}
    (finished / "eval.json").write_text(json.dumps(found))
    row = driving_imitation.run_one("parking", "bc", 0, tmp_path, [], train=False)
    assert row is not None and row["success_rate"] == 0.45 and row["seed"] == 0
    assert driving_imitation.run_one("parking", "bc", 1, tmp_path, [], train=False) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parking-bc-s0"]  # nothing started


def test_held_out_pairs_split_a_cell_by_the_pairs_its_evaluation_played(tmp_path: Path) -> None:
    """A known answer: a run that succeeded on exactly the covered pairs of its final
    evaluation scores 100 there and 0 on the held-out ones."""
    import yaml
    from benchmarks import held_out_pairs

    from diffil.algorithms.config import resolve_config

    mask = held_out_pairs.held_out_mask("pointmaze-medium", 0.5, 1.0, 40, 1)
    assert 0 < sum(mask) < 40
    cell = tmp_path / "drail-s0"
    cell.mkdir()
    config = resolve_config("drail", "pointmaze-medium", {"coverage": 0.5})
    (cell / "config.yaml").write_text(config.to_yaml())
    returns = [0.0 if held else 1.0 for held in mask]
    evaluation = {"episode_returns": returns, "success_rate": sum(returns) / len(returns)}
    (cell / "eval.json").write_text(json.dumps(evaluation))
    split = held_out_pairs.split_cell(cell)
    assert split is not None
    assert (split["covered"], split["held_out"]) == (100.0, 0.0)
    assert split["pairs"] == (40 - sum(mask), sum(mask))
    assert split["training"] == "every cell"
    # an offline method plays no training episode: it trains on neither
    offline = yaml.safe_load(config.to_yaml()) | {"method": "bc"}
    (cell / "config.yaml").write_text(yaml.safe_dump(offline))
    assert held_out_pairs.split_cell(cell)["training"] is None
    # a full-coverage cell has no held-out pairs and is left out
    full = yaml.safe_load(config.to_yaml()) | {"coverage": 1.0}
    (cell / "config.yaml").write_text(yaml.safe_dump(full))
    assert held_out_pairs.split_cell(cell) is None

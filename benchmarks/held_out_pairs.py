"""Success on held-out start/goal pairs: where the maze-generalisation suites' failures are.

    python -m benchmarks.held_out_pairs BENCH [BENCH ...] [--name held_out_pairs]

A coverage level trains on episodes whose start and goal cells both lie in a fixed subset of the
maze's free cells; the final evaluation (100 episodes, the same for every run) draws both from all
cells. Reference 000 claims DRAIL generalises to the states and goals its demonstrations do not
cover. This script reads the finished cells of (packed) bench folders, replays the resets of
each cell's final evaluation to get its start/goal pairs back (``diffil.data.collect.
episode_starts``; eval.json keeps each episode's return, 1 on success), and splits every run's
success between the pairs a training episode can have (start and goal covered) and the held-out
ones (either cell outside), per method and level: IQM over seeds with 95% stratified-bootstrap
CIs. Nothing is trained; it takes seconds. Levels at full coverage have no held-out pairs and are
left out. One table per suite and level.
"""

from __future__ import annotations

import argparse
import functools
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks.report import write_result
from diffil.algorithms.config import inert_settings, read_run_config
from diffil.bench.stats import interval_estimate
from diffil.data.collect import episode_starts
from diffil.envs.maze import held_out_episodes
from diffil.envs.registry import get_task
from diffil.eval.evaluate import FINAL_EVAL_SEED


@functools.cache
def held_out_mask(
    task: str, coverage: float, noise: float, episodes: int, num_envs: int
) -> tuple[bool, ...]:
    """Which of a final evaluation's episodes have a held-out start/goal pair."""
    spec = get_task(task, coverage=coverage, noise=noise)
    starts = episode_starts(spec, episodes, FINAL_EVAL_SEED, evaluation=True, num_envs=num_envs)
    return tuple(bool(h) for h in held_out_episodes(spec, np.stack(starts)))


def split_cell(cell: Path) -> dict | None:
    """One finished cell's success on covered and on held-out pairs (None without eval.json)."""
    if not (cell / "eval.json").is_file():
        return None
    evaluation = json.loads((cell / "eval.json").read_text())
    # as the run was trained (config files from before a setting existed read so)
    config = read_run_config(cell)
    if config.coverage >= 1.0:
        return None
    success = np.array(evaluation["episode_returns"], dtype=float) > 0
    if not np.isclose(success.mean(), evaluation["success_rate"]):
        raise SystemExit(f"{cell}: episode returns do not give its success rate (not a maze?)")
    held = np.array(
        held_out_mask(
            config.task, config.coverage, config.noise, len(success), config.eval.num_envs
        )
    )
    return {
        # None: a method that never plays a training episode (offline)
        "training": None
        if "train_on_covered_cells" in inert_settings(config)
        else "covered cells"
        if config.train_on_covered_cells
        else "every cell",
        "covered": 100 * float(success[~held].mean()) if (~held).any() else float("nan"),
        "held_out": 100 * float(success[held].mean()) if held.any() else float("nan"),
        "all": 100 * float(success.mean()),
        "pairs": (int((~held).sum()), int(held.sum())),
    }


def estimate(scores: list[float]) -> str:
    e = interval_estimate(np.array(scores, dtype=float)[:, None], "iqm")
    return f"{e.value:.1f} [{e.low:.1f}, {e.high:.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benches", nargs="+", type=Path, help="bench folders (or packs)")
    parser.add_argument("--name", default="held_out_pairs", help="results file name")
    args = parser.parse_args()

    rows: dict[tuple[str, str], dict[str, list]] = defaultdict(lambda: defaultdict(list))
    pairs: dict[str, tuple[int, int]] = {}  # by suite and level
    training: dict[str, set[str | None]] = defaultdict(set)  # where each level's runs trained
    for bench in args.benches:
        suite = json.loads((bench / "bench.json").read_text())["suite"]["name"]
        for cell in sorted((bench / "runs").glob("*/*/*")):
            split = split_cell(cell)
            if split is None:
                continue
            task, regime = cell.parent.parent.name, cell.parent.name
            method, seed = cell.name.rsplit("-s", 1)
            level = f"{suite}: {task} / {regime}"
            pairs.setdefault(level, split["pairs"])
            if pairs[level] != split["pairs"]:
                raise SystemExit(f"{cell}: its evaluation played other pairs than the level's")
            for key in ("covered", "held_out", "all"):
                rows[(level, method)][key].append(split[key])
            rows[(level, method)]["seeds"].append(int(seed))
            training[level].add(split["training"])

    md, data = [], {}
    for level in pairs:  # in the order of the folders given
        covered, held = pairs[level]
        where = " and ".join(sorted(t for t in training[level] if t is not None)) or "none"
        if None in training[level]:
            where += " (the offline methods learn from the demonstrations alone)"
        md += [
            f"## {level}",
            "",
            f"Final evaluation: {covered + held} episodes, {covered} with start and goal in "
            f"covered cells, {held} held out. Training episodes on {where}. "
            "Success x 100, IQM over seeds [95% CI].",
            "",
            "| method | seeds | covered pairs | held-out pairs | all pairs |",
            "|---|---|---|---|---|",
        ]
        for (row_level, label), cols in sorted(rows.items()):
            if row_level != level:
                continue
            seeds = ",".join(str(s) for s in sorted(cols["seeds"]))
            cells = " | ".join(estimate(cols[k]) for k in ("covered", "held_out", "all"))
            md.append(f"| {label} | {seeds} | {cells} |")
            data[f"{level} / {label}"] = {k: list(v) for k, v in cols.items()}
        md.append("")
        data[f"{level} / pairs"] = {"covered": covered, "held_out": held}
        data[f"{level} / training"] = sorted(training[level], key=str)  # None: offline
    write_result(
        args.name,
        "Success on covered and held-out start/goal pairs (maze coverage levels)",
        "\n".join(md),
        {"benches": [str(b) for b in args.benches], "cells": data},
    )


if __name__ == "__main__":
    main()

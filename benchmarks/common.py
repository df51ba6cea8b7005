"""Bits the benchmark scripts share: where demonstrations come from, and `diffil train` runs."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from diffil.datasets import SHIPPED_DIR
from diffil.envs.registry import get_task

DATA_DIR = SHIPPED_DIR  # diffil's shipped demonstrations, <task>.hdf5

# `diffil train` (and eval) subprocesses: one torch/BLAS thread each, so runs can go side by side.
DIFFIL = [sys.executable, "-m", "diffil.cli"]


def single_thread_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def demos_path(task: str, data_dir: Path = DATA_DIR) -> Path | None:
    """The demonstrations of ``task``: None for tasks with a scripted expert (the mazes: runs
    make their own), else ``<data_dir>/<task>.hdf5``; exits with what to do if it is missing."""
    if get_task(task).family == "maze":
        return None
    path = data_dir / f"{task}.hdf5"
    if not path.exists():
        sys.exit(
            f"no demonstrations for {task}: {path} does not exist. Train an expert: "
            f"`diffil expert train --task {task}`; then `diffil collect --task {task} --expert "
            f"experts/{task}-s0 --episodes 25 --out {path}`."
        )
    return path


def diffil_train(out: Path, args: list[str], log: Path) -> bool:
    """``diffil train ARGS --out OUT`` (or ``--resume OUT`` when OUT exists), output to ``log``.

    False (with a line saying where the log is) if the run stopped: an interrupted or failed
    run must not cost the benchmark the other runs; it resumes on the next call.
    """
    args = ["--resume", str(out)] if out.exists() else [*args, "--out", str(out)]
    with log.open("a") as f:
        done = subprocess.run(
            [*DIFFIL, "train", *args], env=single_thread_env(), stdout=f, stderr=f
        )
    if done.returncode != 0:
        print(f"{out} stopped (exit {done.returncode}); see {log}", flush=True)
    return done.returncode == 0


def sets_for(label: str, sets: list[str]) -> list[str]:
    """The ``KEY=VALUE`` overrides that apply to ``label``'s runs: unprefixed ones, and those
    written ``LABEL:KEY=VALUE`` (without the prefix)."""
    mine = []
    for item in sets:
        key = item.split("=", 1)[0]
        if ":" not in key:
            mine.append(item)
        elif item.startswith(f"{label}:"):
            mine.append(item.split(":", 1)[1])
    return mine


def add_set_option(parser: argparse.ArgumentParser, per_method: bool = False) -> None:
    """``--set KEY=VALUE`` (repeatable) config overrides for every run; with ``per_method``, a
    ``LABEL:`` prefix limits one to that method's runs (see :func:`sets_for`)."""
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="[LABEL:]KEY=VALUE" if per_method else "KEY=VALUE",
        help="Config override passed to every `diffil train` (e.g. ppo.net_arch=[128,128])"
        + ("; LABEL:KEY=VALUE applies to that method only." if per_method else "."),
    )

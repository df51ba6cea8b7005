"""Demonstrations shipped with diffil, installed with the package: ``<task>.hdf5`` here.

``diffil train`` uses them when a task has no scripted expert and no ``--demos`` is given; they
load like any dataset (``diffil.load_dataset(shipped_demonstrations("hopper"))``). Each file
carries its provenance (expert, seed, returns); see docs/experts.md.
"""

from __future__ import annotations

from pathlib import Path

from diffil.envs.task import task_file_stem

SHIPPED_DIR = Path(__file__).resolve().parent


def shipped_path(task: str) -> Path:
    """Where the shipped demonstrations of ``task`` are (whether or not they exist)."""
    return SHIPPED_DIR / f"{task_file_stem(task)}.hdf5"


def shipped_demonstrations(task: str) -> Path | None:
    """The shipped demonstrations of ``task``, or None if diffil ships none."""
    path = shipped_path(task)
    return path if path.is_file() else None


def shipped_tasks() -> list[str]:
    """The tasks with shipped demonstrations."""
    return sorted(p.stem for p in SHIPPED_DIR.glob("*.hdf5"))

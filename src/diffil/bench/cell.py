"""Training one cell of a suite into its run directory: fresh, resumed, or already finished.

:func:`run_cell` is what a worker process or a Ray task executes. It never raises for a failed
run: the outcome carries the error line, so one bad cell cannot stop the others.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diffil.errors import DiffilError, describe

# one torch/BLAS thread per cell, so cells run side by side without oversubscribing the cores
SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}

RUNS_DIR = "runs"  # a bench folder's cells: OUT/runs/<task>/<regime>/<method>-s<seed>

# what an outcome's state can be (copied: from another bench folder, by --reuse)
TRAINED, RESUMED, REUSED, COPIED, FAILED = "trained", "resumed", "reused", "copied", "failed"
INTERRUPTED = "interrupted"  # status.json only: a cell stopped by Ctrl-C, resumed next time


@dataclass(frozen=True)
class CellJob:
    """Everything a worker needs to train one cell (plain values: it crosses processes)."""

    name: str
    path: str
    method: str
    task: str
    seed: int
    steps: int | None = None
    demos: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CellOutcome:
    """How a cell ended: trained, resumed, reused (it had finished before), copied (from
    another bench folder) or failed."""

    name: str
    state: str
    seconds: float = 0.0
    error: str | None = None


def is_finished(path: str | Path) -> bool:
    """The cell's run has its final evaluation (eval.json)."""
    from diffil.runs.run_dir import EVAL

    return (Path(path) / EVAL).is_file()


def _stop_like_ctrl_c(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def start_worker() -> None:
    """Set up a worker process: one thread, and SIGTERM stops training the way Ctrl-C does
    (it saves a checkpoint), as in the ``diffil`` command."""
    use_one_thread()
    signal.signal(signal.SIGTERM, _stop_like_ctrl_c)


def use_one_thread() -> None:
    """Limit this process to one torch and BLAS thread (before heavy imports, if possible)."""
    os.environ.update(SINGLE_THREAD_ENV)
    import torch

    torch.set_num_threads(1)


def run_cell_in_ray_task(job: CellJob) -> CellOutcome:
    """:func:`run_cell` in a Ray worker, limited to one thread first. (Ray already sets
    OMP_NUM_THREADS to a task's CPUs; a per-task ``runtime_env`` instead would make Ray start a
    fresh worker through its runtime-env agent for every cell, minutes on a busy machine.)"""
    use_one_thread()
    return run_cell(job)


def run_cell(job: CellJob) -> CellOutcome:
    """Train ``job`` into its directory, or resume it there; the outcome says which, or why it
    failed (one line)."""
    from diffil.algorithms.run import train
    from diffil.errors import TrainingInterrupted
    from diffil.runs.run_dir import CONFIG

    use_one_thread()
    started = time.perf_counter()
    if is_finished(job.path):
        return CellOutcome(job.name, REUSED)
    resume = (Path(job.path) / CONFIG).is_file()
    try:
        if resume:
            train(resume=job.path, steps=job.steps, progress=False)
        else:
            train(
                job.method,
                job.task,
                demos=job.demos,
                steps=job.steps,
                seed=job.seed,
                out=job.path,
                overrides=job.overrides,
                progress=False,
            )
    except TrainingInterrupted as err:  # Ctrl-C or kill: the checkpoint is saved
        error = f"{err.what}; the next `diffil bench run` resumes it"
        return CellOutcome(job.name, FAILED, time.perf_counter() - started, error)
    except DiffilError as err:
        return CellOutcome(job.name, FAILED, time.perf_counter() - started, str(err))
    except Exception as exc:  # a bug or a crash in one cell must not stop the suite
        return CellOutcome(job.name, FAILED, time.perf_counter() - started, describe(exc))
    return CellOutcome(job.name, RESUMED if resume else TRAINED, time.perf_counter() - started)

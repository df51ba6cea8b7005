"""Where cells run: a local pool of worker processes, or Ray tasks (one machine or a cluster).

Both take :class:`~diffil.bench.cell.CellJob` objects and hand back
:class:`~diffil.bench.cell.CellOutcome` objects as cells finish, one torch thread per cell.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from typing import Any, Protocol

from diffil.bench.cell import (
    CellJob,
    CellOutcome,
    run_cell,
    run_cell_in_ray_task,
    start_worker,
)
from diffil.errors import DiffilError, describe


class Executor(Protocol):
    """Runs cells; :meth:`run` yields outcomes in the order the cells finish."""

    slots: int  # cells that run at the same time

    def run(self, jobs: list[CellJob]) -> Iterator[CellOutcome]: ...

    def close(self, interrupted: bool = False) -> None: ...


class LocalPool:
    """``workers`` processes (started fresh, not forked), one torch thread each."""

    def __init__(self, workers: int):
        if workers < 1:
            raise DiffilError(f"--workers must be >= 1, got {workers}", "pass e.g. --workers 2")
        self.slots = workers
        self.pool: ProcessPoolExecutor | None = None

    def run(self, jobs: list[CellJob]) -> Iterator[CellOutcome]:
        if not jobs:
            return
        self.pool = pool = ProcessPoolExecutor(
            max_workers=min(self.slots, len(jobs)),
            mp_context=multiprocessing.get_context("spawn"),
            initializer=start_worker,
        )
        # One cell per worker in flight, the next submitted as one finishes: the pool hands
        # queued calls to its workers ahead of time, and those run even after close()
        # cancels the rest, so a queue would start new cells after Ctrl-C.
        queue = iter(jobs)
        pending: dict[Future, CellJob] = {}

        def submit_next() -> None:
            job = next(queue, None)
            if job is not None:
                pending[pool.submit(run_cell, job)] = job

        for _ in range(self.slots):
            submit_next()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                job = pending.pop(future)
                submit_next()
                try:
                    yield future.result()
                except Exception as exc:  # the worker process died (out of memory, killed)
                    yield CellOutcome(job.name, "failed", 0.0, f"worker died ({describe(exc)})")

    def close(self, interrupted: bool = False) -> None:
        """Wait for the workers; ``interrupted``: stop their cells first (each saves a
        checkpoint, so the next run resumes it)."""
        if self.pool is None:
            return
        if interrupted:
            # the pool has no public handle on its processes; SIGTERM makes each checkpoint
            for process in list(getattr(self.pool, "_processes", {}).values()):
                process.terminate()
        self.pool.shutdown(wait=True)
        self.pool = None


# Ray starts its task workers at nice 15. Beside any other busy process its cells then crawl:
# the Ray smoke-suite test (two 5 s cells) took 407 s at nice 15 and 53 s at nice 0, both beside
# three training processes on 2 cores.
# The cells are the job, so a Ray that diffil starts here runs them at normal priority, like the
# local pool; RAY_worker_niceness set by the user wins, and a cluster keeps its own setting.
WORKER_NICENESS = "RAY_worker_niceness"


@contextmanager
def _environ_default(name: str, value: str) -> Iterator[None]:
    """``os.environ[name]`` is ``value`` inside the block unless it was set already."""
    if name in os.environ:
        yield
        return
    os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)


class RayTasks:
    """Each cell is a Ray task needing one CPU: ``ray.init()`` here, or ``ray.init(address)``.

    A Ray session that is already initialised (e.g. by the caller) is used as it is and left
    running. On a cluster every node must have diffil installed and see the output folder. A Ray
    started here runs its workers at normal priority (:data:`WORKER_NICENESS`).
    """

    def __init__(self, address: str | None = None):
        try:
            import ray
        except ImportError:
            raise DiffilError(
                "--ray needs the ray package", "pip install 'diffil[bench]' (or ray)"
            ) from None
        self.ray = ray
        self.started = False
        if not ray.is_initialized():
            options: dict[str, Any] = {
                "include_dashboard": False,
                "log_to_driver": False,
                "logging_level": logging.WARNING,
            }
            try:
                with _environ_default(WORKER_NICENESS, "0"):  # read by the raylet it starts
                    ray.init(address=address or None, **options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise DiffilError(
                    f"cannot start or reach Ray at {address or 'this machine'} ({exc})",
                    "check the address (e.g. ray://HOST:10001 or HOST:6379)",
                ) from None
            self.started = True
        self.slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.pending: dict[Any, CellJob] = {}

    def run(self, jobs: list[CellJob]) -> Iterator[CellOutcome]:
        if not jobs:
            return
        remote = self.ray.remote(run_cell_in_ray_task).options(num_cpus=1, max_retries=0)
        pending = self.pending = {remote.remote(job): job for job in jobs}
        while pending:
            done, _ = self.ray.wait(list(pending), num_returns=1)
            for ref in done:
                job = pending.pop(ref)
                try:
                    yield self.ray.get(ref)
                except Exception as exc:  # the task's worker died
                    yield CellOutcome(job.name, "failed", 0.0, f"ray task failed ({describe(exc)})")

    def close(self, interrupted: bool = False) -> None:
        if interrupted:  # Ray raises KeyboardInterrupt in each task: its cell checkpoints
            for ref in self.pending:
                self.ray.cancel(ref)
        self.pending = {}
        if self.started:
            self.ray.shutdown()
            self.started = False

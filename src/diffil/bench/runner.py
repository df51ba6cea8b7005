"""Running a suite: every cell an ordinary run directory below ``OUT/runs``.

    OUT/bench.json      the suite, the command, machine and dates (what the report reads)
    OUT/status.json     each cell's last outcome: trained, resumed, reused, copied, failed (its
                        error) or interrupted (by Ctrl-C; the next run resumes it)
    OUT/data/*.hdf5     the demonstrations, made once and shared by the cells that use them
                        (bench.json keeps their digests: one made again must be the same)
    OUT/runs/<task>/<regime>/<method>-s<seed>/   the cells' run directories

A second run of the same suite into the same OUT reuses finished cells (eval.json exists),
resumes interrupted ones from their checkpoint and retries failed ones; it refuses to start when
a cell there was trained with other settings than the command gives it now (an edited suite, a
changed ``--steps``), so that one folder never mixes two protocols. Cells that other bench
folders trained with the same config and demonstrations can be copied in instead
(:mod:`diffil.bench.reuse`); bench.json records each copy under ``copied``, and the suite and
runs of the folder that trained it under ``origins`` (:mod:`diffil.bench.manifest`).
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diffil.bench.cell import (
    COPIED,
    FAILED,
    INTERRUPTED,
    REUSED,
    RUNS_DIR,
    CellJob,
    CellOutcome,
    is_finished,
)
from diffil.bench.demos import (
    check_recorded,
    demo_sources,
    demos_path,
    ensure_augmented,
    ensure_demonstrations,
)
from diffil.bench.executors import Executor, LocalPool, RayTasks
from diffil.bench.manifest import MANIFEST, STATUS, read_json, run_history, write_json
from diffil.bench.reuse import copy_reusable_cells, differing_settings, origins_of
from diffil.bench.suite import Cell, Suite
from diffil.errors import DiffilError, TrainingInterrupted
from diffil.runs.run_dir import CONFIG
from diffil.utils.config import deep_merge
from diffil.utils.progress import format_duration
from diffil.utils.provenance import RESULT_PACKAGES, machine, utc_now, versions

CLI_MAIN = ("cli", "__main__.py")  # sys.argv[0] of `python -m diffil.cli`


@dataclass
class BenchSummary:
    """What a :func:`run_suite` call did, per cell, and how long it took."""

    out: Path
    outcomes: dict[str, CellOutcome] = field(default_factory=dict)
    seconds: float = 0.0

    def count(self, state: str) -> int:
        return sum(o.state == state for o in self.outcomes.values())

    @property
    def failed(self) -> list[CellOutcome]:
        return [o for o in self.outcomes.values() if o.state == FAILED]


def cell_path(out: Path, cell: Cell) -> Path:
    return out / RUNS_DIR / cell.name


def job_for(cell: Cell, suite: Suite, out: Path) -> CellJob:
    """The training call of ``cell``: the suite's overrides (a variant's on top), then the
    regime and budget."""
    from diffil.algorithms.methods import get_method

    regime = cell.regime
    settings: dict[str, Any] = {"noise": regime.eval_noise, "coverage": regime.coverage}
    if regime.demos is not None:
        # an augmented file holds the real episodes first, then at most augment x as many
        # synthetic ones: all of them are used
        settings["num_demos"] = regime.demos * (1 + regime.augment)
    offline = get_method(cell.base_method).offline
    if offline and suite.budget.offline is not None:
        settings["bc"] = {"steps": suite.budget.offline}
    demos = demos_path(out, cell)
    return CellJob(
        name=cell.name,
        path=str(cell_path(out, cell)),
        method=cell.base_method,
        task=cell.task,
        seed=cell.seed,
        steps=None if offline else suite.budget.online,
        demos=None if demos is None else str(demos),
        overrides=deep_merge(suite.method_overrides(cell.method), settings),
    )


def _record_manifest(out: Path, suite: Suite, cells: list[Cell], how: str) -> dict[str, Any]:
    """Write bench.json: this suite (merged with the cells of earlier runs into ``out``)."""
    old = read_json(out / MANIFEST)
    known = dict(old.get("cells", {}))
    for cell in cells:
        known[cell.name] = {
            "task": cell.task,
            "regime": cell.regime.name,
            "method": cell.method,
            "seed": cell.seed,
            **({"base_method": cell.base} if cell.base else {}),
        }
    this_run = {
        "command": "diffil " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        if Path(sys.argv[0]).name == "diffil" or Path(sys.argv[0]).parts[-2:] == CLI_MAIN
        else None,
        "machine": machine(),
        "executor": how,
        "started": utc_now(),
        "folder": str(out),  # runs packed together from several folders stay apart
    }
    manifest = {
        "suite": suite.to_dict(),
        **this_run,
        "versions": versions(*RESULT_PACKAGES),
        "first_started": old.get("first_started") or this_run["started"],
        "history": [*run_history(old), this_run],  # every run into this folder, oldest first
        "cells": known,
        "demonstrations": old.get("demonstrations", {}),  # synthetic sets (ensure_augmented)
        "copied": old.get("copied", {}),  # cells copied from other folders (--reuse)
        "origins": old.get("origins", {}),  # those folders' suites and runs (reuse.origins_of)
        "data": old.get("data", {}),  # the collected demonstrations' episodes and digests
    }
    write_json(out / MANIFEST, manifest)
    return manifest


class Progress:
    """One line per finished cell: done, running, failed, total, and an ETA."""

    def __init__(self, total: int, slots: int, say: Callable[[str], None]):
        self.total, self.slots, self.say = total, slots, say
        self.done = self.failed = 0
        self.trained_seconds: list[float] = []
        self.started = time.perf_counter()

    def line(self) -> str:
        finished = self.done + self.failed
        running = min(self.slots, self.total - finished)
        text = (
            f"cells: {self.done} done, {running} running, {self.failed} failed, {self.total} total"
        )
        if self.trained_seconds and finished < self.total:
            # cells finished so far set the pace: wall-clock per cell, with the pool's overlap
            pace = (time.perf_counter() - self.started) / len(self.trained_seconds)
            text += f"; ETA {format_duration(pace * (self.total - finished))}"
        return text

    def update(self, outcome: CellOutcome) -> None:
        if outcome.state == FAILED:
            self.failed += 1
            self.say(f"failed {outcome.name}: {outcome.error}")
        else:
            self.done += 1
            if outcome.state not in (REUSED, COPIED):
                self.trained_seconds.append(outcome.seconds)
        self.say(self.line())


def _record_interrupted(
    out: Path, todo: list[CellJob], status: dict[str, Any], summary: BenchSummary
) -> None:
    """On Ctrl-C: the cells of this call that had started and not finished are recorded as
    interrupted in status.json (the next run resumes them)."""
    for job in todo:
        started = (Path(job.path) / CONFIG).is_file()
        if job.name in summary.outcomes or not started or is_finished(job.path):
            continue
        status[job.name] = {
            "state": INTERRUPTED,
            "seconds": 0.0,
            "error": "stopped before its end; the next `diffil bench run` resumes it",
            "when": utc_now(),
        }
    write_json(out / STATUS, status)


def check_same_suite(out: Path, suite: Suite) -> None:
    """Refuse (one line) a folder that holds another suite's results."""
    old = read_json(out / MANIFEST)
    if old and old.get("suite", {}).get("name") != suite.name:
        raise DiffilError(
            f"holds results of suite {old.get('suite', {}).get('name')!r}, not {suite.name!r}",
            "choose another --out",
            out,
        )


def check_trained_as_now(jobs: list[CellJob], out: Path) -> None:
    """Refuse (one line) when a cell already in ``out`` was trained with other settings than
    ``jobs`` give it: reusing or resuming it would mix two configs under one name. An unfinished
    cell may differ in ``steps`` (resuming it trains to the new budget)."""
    stale = []
    for job in jobs:
        path = Path(job.path)
        if not (path / CONFIG).is_file():
            continue
        try:
            keys = differing_settings(job, path, ignore=() if is_finished(path) else ("steps",))
        except DiffilError:  # an unreadable config: that cell fails alone, with its message
            continue
        if keys:
            stale.append(f"{job.name} ({', '.join(keys)})")
    if stale:
        shown = ", ".join(stale[:3]) + (f" and {len(stale) - 3} more" if len(stale) > 3 else "")
        raise DiffilError(
            f"{len(stale)} cell(s) there were trained with other settings than this command "
            f"gives them: {shown}",
            "run into another --out, or delete those cells' folders to train them again",
            out,
        )


def run_suite(
    suite: Suite,
    out: str | Path,
    workers: int = 2,
    ray_address: str | None = None,
    use_ray: bool = False,
    reuse: list[str | Path] | None = None,
    say: Callable[[str], None] = print,
) -> BenchSummary:
    """Train every cell of ``suite`` into ``out`` (see the module docstring for the layout).

    ``workers`` local processes run cells side by side; with ``use_ray`` the cells are Ray
    tasks instead, on this machine (``ray_address`` None) or on the cluster at ``ray_address``.
    ``reuse`` names bench folders whose matching finished cells are copied in instead of trained.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    cells = suite.cells()
    jobs = [job_for(cell, suite, out) for cell in cells]
    check_same_suite(out, suite)
    check_trained_as_now(jobs, out)
    how = f"ray ({ray_address or 'local'})" if use_ray else f"local pool, {workers} workers"
    _record_manifest(out, suite, cells, how)
    status = read_json(out / STATUS)
    summary = BenchSummary(out)
    todo = []
    for job in jobs:
        if is_finished(job.path):
            summary.outcomes[job.name] = CellOutcome(job.name, REUSED)
        else:
            todo.append(job)
    say(
        f"suite {suite.name}: {len(jobs)} cells ({len(jobs) - len(todo)} finished before) "
        f"into {out}"
    )
    sources = demo_sources(suite, cells)
    ensure_demonstrations(out, sources, say)
    manifest = read_json(out / MANIFEST)
    manifest["data"] = check_recorded(out, sources, manifest.get("data", {}))
    write_json(out / MANIFEST, manifest)
    augmented = ensure_augmented(out, cells, say)
    if augmented:
        manifest = read_json(out / MANIFEST)
        manifest["demonstrations"] = {**manifest.get("demonstrations", {}), **augmented}
        write_json(out / MANIFEST, manifest)
    if reuse:
        copied = copy_reusable_cells(todo, [Path(p) for p in reuse], say)
        if copied:
            manifest = read_json(out / MANIFEST)
            manifest["copied"] = {**manifest.get("copied", {}), **copied}
            used = sorted({Path(record["folder"]) for record in copied.values()})
            manifest["origins"] = {**manifest.get("origins", {}), **origins_of(used)}
            write_json(out / MANIFEST, manifest)
            for name in copied:
                summary.outcomes[name] = CellOutcome(name, COPIED)
                status[name] = {"state": COPIED, "seconds": 0.0, "error": None, "when": utc_now()}
            write_json(out / STATUS, status)
            todo = [job for job in todo if job.name not in copied]
    executor: Executor = RayTasks(ray_address) if use_ray else LocalPool(workers)
    progress = Progress(len(jobs), executor.slots, say)
    progress.done = len(jobs) - len(todo)
    interrupted = True
    try:
        for outcome in executor.run(todo):
            summary.outcomes[outcome.name] = outcome
            status[outcome.name] = {
                "state": outcome.state,
                "seconds": round(outcome.seconds, 1),
                "error": outcome.error,
                "when": utc_now(),
            }
            write_json(out / STATUS, status)
            progress.update(outcome)
        interrupted = False
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: close() makes the running cells checkpoint
        _record_interrupted(out, todo, status, summary)
        raise TrainingInterrupted(
            f"interrupted with {progress.done} of {len(jobs)} cells finished; the running "
            "cells saved their checkpoints",
            f"run the same command again (--out {out}): finished cells are reused and "
            "interrupted ones resume",
        ) from None
    finally:
        executor.close(interrupted)
    for job in jobs:  # cells that finished before keep their recorded state
        if job.name not in status:
            status[job.name] = {"state": REUSED, "seconds": 0.0, "error": None, "when": utc_now()}
    write_json(out / STATUS, status)
    summary.seconds = time.perf_counter() - started
    return summary

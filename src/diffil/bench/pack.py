"""Packing a bench folder's finished results small enough to keep in a repository.

A bench folder holds checkpoints, policies and demonstrations: hundreds of MB for a maze suite,
on the machine that trained it. What the report reads of a finished cell is small: its
config.yaml, eval.json and the periodic evaluations of its metrics.csv. :func:`pack_bench`
copies just that, with bench.json and status.json, into a folder that is itself a bench folder:

* ``diffil bench report PACKED`` gives the tables and learning curves of the original (reward
  maps need the checkpoints: the report keeps those it drew before, see
  :mod:`diffil.bench.report`);
* ``diffil bench run SUITE --out COPY_OF_PACKED`` reuses every packed cell and trains the rest,
  so a suite can grow over several machines and sessions, and one report covers all its cells.

Unfinished cells are left out: without their checkpoints they could not resume.

Packing into an earlier pack of the same suite merges: cells, their status, the record of
synthetic demonstrations and the history of runs (commands, machines, starts) add up, so two
folders trained side by side (two `bench run` processes may not share one folder) become one.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

from diffil.bench.cell import RUNS_DIR, is_finished
from diffil.bench.demos import merge_records
from diffil.bench.manifest import MANIFEST, STATUS, read_json, run_history, write_json
from diffil.errors import DiffilError
from diffil.runs.run_dir import CONFIG, EVAL, METRICS
from diffil.utils.provenance import utc_now

KEPT_COLUMNS = ("env_steps", "iteration", "time_s")  # besides every eval_* column


def _evaluation_rows(metrics: str) -> str:
    """metrics.csv reduced to the rows with a periodic evaluation and the columns that say
    when it was (env steps, iteration, seconds) and what it measured (eval_*)."""
    reader = csv.DictReader(io.StringIO(metrics))
    header = [c for c in (reader.fieldnames or []) if c in KEPT_COLUMNS or c.startswith("eval_")]
    evals = [c for c in header if c.startswith("eval_")]
    out = io.StringIO()
    writer = csv.DictWriter(out, header, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in reader:
        if any(row.get(c) for c in evals):
            writer.writerow(row)
    return out.getvalue()


def pack_bench(folder: str | Path, out: str | Path) -> dict[str, Any]:
    """Copy the finished cells of the bench folder ``folder`` (small files only) to ``out``;
    returns the packed manifest. ``out`` may hold an earlier pack of the same suite: its cells
    are kept, and those ``folder`` also has are replaced."""
    folder, out = Path(folder), Path(out)
    manifest = read_json(folder / MANIFEST)
    if not manifest:
        raise DiffilError(
            f"not a bench folder (no {MANIFEST})", "pass the --out of `diffil bench run`", folder
        )
    if out.resolve() == folder.resolve():
        raise DiffilError("cannot pack a bench folder into itself", "pass another --out", out)
    if out.exists() and not out.is_dir():
        raise DiffilError("is a file, not a folder", "pass a folder as --out", out)
    earlier = read_json(out / MANIFEST)
    suite = manifest.get("suite", {}).get("name")
    if earlier and earlier.get("suite", {}).get("name") != suite:
        raise DiffilError(
            f"holds results of suite {earlier.get('suite', {}).get('name')!r}, not {suite!r}",
            "choose another --out",
            out,
        )
    # demonstrations' records first: folders whose demonstrations differ are not packed together
    data = merge_records(earlier.get("data") or {}, manifest.get("data") or {}, folder)
    status = read_json(folder / STATUS)
    packed_cells = dict(earlier.get("cells") or {})
    packed_status = read_json(out / STATUS) if earlier else {}
    packed_now = set()
    for name, info in (manifest.get("cells") or {}).items():
        source = folder / RUNS_DIR / name
        if not is_finished(source):
            continue
        target = out / RUNS_DIR / name
        target.mkdir(parents=True, exist_ok=True)
        for file in (CONFIG, EVAL):
            shutil.copyfile(source / file, target / file)
        if (source / METRICS).is_file():
            (target / METRICS).write_text(_evaluation_rows((source / METRICS).read_text()))
        else:  # no rows of an earlier pack's run of this cell may stay behind
            (target / METRICS).unlink(missing_ok=True)
        packed_cells[name] = info
        packed_now.add(name)
        if name in status:
            packed_status[name] = status[name]
    # cells copied in from other folders (--reuse): this folder's record wins for its cells
    copied = {
        name: record
        for name, record in (earlier.get("copied") or {}).items()
        if name in packed_cells and name not in packed_now
    }
    copied.update({n: r for n, r in (manifest.get("copied") or {}).items() if n in packed_now})
    # the runs behind every packed cell: an earlier pack's, then this folder's, oldest first
    history = [*run_history(earlier), *run_history(manifest)]
    unique = {json.dumps(run, sort_keys=True, default=str): run for run in history}
    history = sorted(unique.values(), key=lambda run: str(run.get("started") or ""))
    first = min((str(r["started"]) for r in history if r.get("started")), default=None)
    manifest = {
        **manifest,
        "history": history,
        "first_started": first or manifest.get("first_started"),
        "cells": packed_cells,
        "demonstrations": {
            **(earlier.get("demonstrations") or {}),
            **(manifest.get("demonstrations") or {}),
        },
        "copied": copied,
        "origins": {**(earlier.get("origins") or {}), **(manifest.get("origins") or {})},
        "data": data,
        "packed": {
            "from": str(folder),
            "when": utc_now(),
            "what": "finished cells only: config.yaml, eval.json and the evaluation rows of "
            "metrics.csv; no checkpoints, policies or demonstrations",
        },
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / STATUS, packed_status)
    write_json(out / MANIFEST, manifest)
    return manifest

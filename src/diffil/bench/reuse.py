"""Copying finished cells in from other bench folders instead of training them again.

Two suites often share cells: a variant suite that changes one setting for every method keeps the
method whose preset already has that setting unchanged. ``diffil bench run SUITE --reuse OTHER``
copies such a cell from ``OTHER`` (a bench folder or a pack of one) when

* ``OTHER/runs/<task>/<regime>/<method>-s<seed>`` has finished (a cell of the same name, or
  else of the same task, method and seed under another regime: one suite's level can be another's
  under another name, e.g. maze-data-efficiency's ``demos100`` is maze-generalisation's
  ``cov100``),
* its config, read as today's code reads it, equals the config this suite would train the cell
  with (the demonstrations' path aside), and
* its demonstrations hold the same content as this folder's (every array and attribute; found at
  the path its config names, or in ``OTHER/data`` under the same file name, or else by the
  digest ``OTHER/bench.json`` recorded for that file: a pack keeps digests, not files), or, for
  a cell that names none, as the task's shipped demonstrations that ``diffil train`` would use.

Each copy is recorded in ``bench.json`` under ``copied`` (source, the folder that trained it,
time, the demonstrations' content digest), and each source's suite and commands under
``origins`` (with the origins it had recorded in turn), so the report can say which cells the
commands in its header did not train, and which commands did.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from diffil.bench.cell import RUNS_DIR, CellJob, is_finished
from diffil.bench.demos import DATA_DIR, demos_digest
from diffil.bench.manifest import MANIFEST, read_json, run_history
from diffil.errors import DiffilError
from diffil.utils.provenance import utc_now


def _config_data(config: Any) -> dict[str, Any]:
    """A TrainConfig as plain data, without the demonstrations' path (compared by content) and
    the settings that cannot change what it trains (:func:`inert_settings`)."""
    from diffil.algorithms.config import inert_settings

    data = yaml.safe_load(config.to_yaml())
    for key in {"demos", *inert_settings(config)}:
        data.pop(key, None)
    return data


def _job_config(job: CellJob) -> Any:
    """The TrainConfig training ``job`` would write."""
    from diffil.algorithms.run import new_run_config

    return new_run_config(
        job.method,
        job.task,
        demos=job.demos,
        steps=job.steps,
        seed=job.seed,
        overrides=job.overrides,
    )


def differing_settings(job: CellJob, run: Path, ignore: tuple[str, ...] = ()) -> list[str]:
    """The top-level settings in which the run at ``run`` (its config as today's code reads it)
    differs from the config ``job`` would train, ``ignore`` and the demonstrations' path aside
    (compare those by content); [] when they agree. Raises a one-line DiffilError for a config
    that cannot be read."""
    from diffil.algorithms.config import read_run_config

    return _differing(_job_config(job), read_run_config(run), ignore)


def _differing(ours: Any, theirs: Any, ignore: tuple[str, ...] = ()) -> list[str]:
    """The top-level settings in which two TrainConfigs differ (see :func:`_config_data`)."""
    mine, other = _config_data(ours), _config_data(theirs)
    return sorted(
        k for k in mine.keys() | other.keys() if k not in ignore and mine.get(k) != other.get(k)
    )


def _source_demos(source: Path, named: str | None) -> Path | None:
    """The demonstrations a cell of ``source`` names: at that path, else in ``source/data``."""
    if not named:
        return None
    for path in (Path(named), source / DATA_DIR / Path(named).name):
        if path.is_file():
            return path
    return None


def why_not_reusable(job: CellJob, candidate: Path, source: Path) -> str | None:
    """None when ``candidate`` (a cell of the bench folder ``source``) is what training ``job``
    would make; otherwise why not, in a few words."""
    from diffil.algorithms.config import read_run_config

    if not is_finished(candidate):
        return "not finished there"
    ours = _job_config(job)
    try:
        theirs = read_run_config(candidate)
    except DiffilError as err:
        return f"its config cannot be read ({err.what})"
    keys = _differing(ours, theirs)
    if keys:
        return f"its config differs ({', '.join(keys)})"
    wanted = job.demos if job.demos is not None else _shipped_demos(ours)
    if wanted is None:
        return None if theirs.demos is None else "it trained on demonstrations, this cell has none"
    found = _source_demos(source, theirs.demos)
    digest = demos_digest(found) if found is not None else _recorded_digest(source, theirs.demos)
    if digest is None:
        return f"its demonstrations ({theirs.demos}) are not there to compare"
    if digest != demos_digest(Path(wanted)):
        return "its demonstrations differ"
    return None


def _recorded_digest(source: Path, named: str) -> str | None:
    """The content digest ``source/bench.json`` recorded for the demonstrations file ``named``
    (a pack keeps the digests, not the files); None if it has no record of it."""
    record = (_manifest(source).get("data") or {}).get(Path(named).name)
    return record.get("digest") if isinstance(record, dict) else None


def _shipped_demos(config: Any) -> str | None:
    """The demonstrations a cell that names none trains on (what :func:`train` picks)."""
    from diffil.algorithms.run import shipped_demonstrations_for

    if config.demos is not None:
        return config.demos
    try:
        path = shipped_demonstrations_for(config, progress=False)
    except DiffilError:  # no demonstrations at all: the cell will fail with that message
        return None
    return None if path is None else str(path)


def _candidates(job: CellJob, sources: list[Path]) -> Iterator[tuple[Path, Path, bool]]:
    """The cells of ``sources`` that could stand for ``job``'s cell (task/regime/method-sN), as
    (folder, cell, whether it has that name): each folder's cell of that name first, then its
    cells of the same task, method and seed under other regimes. A variant's cell (say
    drail-shaped-s0) may also be found under its registered method's name (drail-s0) in a folder
    whose suite ran that method with the variant's overrides for every cell."""
    task, _, leaf = job.name.split("/")  # Cell.name: the task's file stem has no slash
    leaves = list(dict.fromkeys([leaf, f"{job.method}-s{job.seed}"]))
    for source in sources:
        same = source / RUNS_DIR / job.name
        if same.exists():
            yield source, same, True
        for name in leaves:
            for other in sorted((source / RUNS_DIR / task).glob(f"*/{name}")):
                if other != same and other.is_dir():
                    yield source, other, False


def _manifest(folder: Path) -> dict[str, Any]:
    """A bench folder's bench.json ({} if it has none or it cannot be read)."""
    try:
        return read_json(folder / MANIFEST)
    except DiffilError:
        return {}


def trained_in(record: dict[str, Any]) -> str:
    """The folder whose own runs trained a copied cell, from its ``copied`` record (records from
    before ``trained_in`` was kept name only the folder it was copied from)."""
    return str(record.get("trained_in") or record.get("folder"))


def _trained_in(source: Path, candidate: Path) -> str:
    """The folder whose own runs trained ``candidate`` (a cell of ``source``): ``source``, or
    the folder ``source`` had copied it from in turn."""
    name = candidate.relative_to(source / RUNS_DIR).as_posix()
    record = (_manifest(source).get("copied") or {}).get(name)
    return trained_in(record) if record else str(source.resolve())


def origins_of(sources: list[Path]) -> dict[str, dict[str, Any]]:
    """What ``diffil bench report`` needs to say how copied cells were trained: for each source
    folder, and each folder it had copied cells from in turn, its suite and the runs into it
    (command, machine, date), by folder. Recorded in bench.json under ``origins``."""

    def origin(manifest: dict[str, Any]) -> dict[str, Any]:
        return {
            "suite": (manifest.get("suite") or {}).get("name"),
            "history": run_history(manifest),
        }

    origins: dict[str, dict[str, Any]] = {}
    for source in sources:
        manifest = _manifest(source)
        origins.update(manifest.get("origins") or {})
        # folders it copied from before it recorded origins: read from disk where still there
        for record in (manifest.get("copied") or {}).values():
            folder = trained_in(record)
            if folder not in origins and _manifest(Path(folder)):
                origins[folder] = origin(_manifest(Path(folder)))
        origins[str(source.resolve())] = origin(manifest)
    return origins


def copy_reusable_cells(
    jobs: list[CellJob], sources: list[Path], say: Callable[[str], None]
) -> dict[str, dict[str, Any]]:
    """Copy each unfinished cell of ``jobs`` that a folder of ``sources`` holds (first match
    wins) into its place; returns the records to keep in bench.json, by cell name."""
    copied: dict[str, dict[str, Any]] = {}
    for source in sources:
        if not source.is_dir():
            raise DiffilError(
                "is not a folder", "pass a bench folder (or a pack) to --reuse", source
            )
    for job in jobs:
        if is_finished(job.path):
            continue
        reasons = []
        for source, candidate, same_name in _candidates(job, sources):
            why = why_not_reusable(job, candidate, source)
            if why is not None:
                if same_name:  # why another regime's cell differs is no news
                    reasons.append(f"{candidate}: {why}")
                continue
            target = Path(job.path)
            if target.exists():  # an interrupted run of this cell: the finished copy replaces it
                say(f"replacing the unfinished run {target} with a finished copy")
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(candidate, target)
            copied[job.name] = {
                "folder": str(source.resolve()),
                "from": str(candidate.resolve()),
                "trained_in": _trained_in(source, candidate),
                "when": utc_now(),
                "demos_digest": None if job.demos is None else demos_digest(Path(job.demos)),
            }
            say(f"copied {job.name} from {candidate}")
            break
        else:
            for reason in reasons:
                say(f"not copied {job.name}: {reason}")
    return copied

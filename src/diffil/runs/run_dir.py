"""A run is a directory: resolved config, metrics, checkpoints, the final policy.

    <run>/config.yaml          the resolved config (diffil.algorithms.config.read_run_config)
    <run>/metrics.csv          one row per training iteration (also under <run>/tb for TensorBoard)
    <run>/checkpoints/latest/  everything needed to resume (written atomically)
    <run>/policy.pt            the final policy (diffil.Policy.load)
    <run>/eval.json            the final evaluation

Checkpoints are written to a staging folder and renamed into place, so an interruption during a
save leaves the previous checkpoint intact. A process training into a run holds a lock on its
config.yaml (:meth:`RunDirectory.lock`), so a second one started on the same directory stops with
a one-line error instead of interleaving its metrics and checkpoints with the first's.

A run directory knows files, not methods: it stores the config as YAML text and hands it back as
a mapping, so it sits below the training code that writes it (:mod:`diffil.algorithms`).
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from os import PathLike
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; runs are not guarded there
    fcntl = None  # type: ignore[assignment]

from diffil.envs.task import task_file_stem
from diffil.errors import DiffilError, reading
from diffil.utils.config import load_yaml

CONFIG = "config.yaml"
METRICS = "metrics.csv"
POLICY = "policy.pt"
BEST_POLICY = "best_policy.pt"  # the policy of the best periodic evaluation (online methods)
EVAL = "eval.json"
PLAN_REWARD = "reward.pt"  # the learned reward r_phi(s, a) of a Diffuser-IRL run
STATE = "state.json"
RESTORE = "restore it from a backup, or start a new run"


def default_run_path(method: str, task: str, seed: int, root: str | PathLike = "runs") -> Path:
    """``<root>/<method>-<task>-s<seed>-<date-time>``: a fresh run's folder when none is given."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{method}-{task_file_stem(task)}-s{seed}-{stamp}"


class RunDirectory:
    """Files of one training run; create it with :meth:`create`, reopen it with :meth:`open`."""

    def __init__(self, path: str | PathLike):
        self.path = Path(path)
        self._tb = None
        self._lock: IO[str] | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | PathLike, config_yaml: str) -> RunDirectory:
        """A new run at ``path`` (missing or empty) holding ``config_yaml``, locked."""
        path = Path(path)
        if path.exists() and any(path.iterdir()):
            raise DiffilError(
                "run directory already exists and is not empty",
                "resume it with --resume, or choose another --out",
                path,
            )
        path.mkdir(parents=True, exist_ok=True)
        run = cls(path)
        run.config_path.write_text(config_yaml)
        run.lock()
        return run

    @classmethod
    def open(cls, path: str | PathLike) -> RunDirectory:
        run = cls(path)
        if not run.config_path.is_file():
            raise DiffilError(
                f"not a diffil run directory (no {CONFIG})",
                "pass the folder that `diffil train` wrote",
                path,
            )
        return run

    def lock(self) -> None:
        """Claim the run for this process until :meth:`close` (or the process ends, however it
        ends: the OS drops the lock). One-line error if another process holds it."""
        if fcntl is None or self._lock is not None:
            return
        handle = self.config_path.open()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise DiffilError(
                "another diffil process is training into this run directory",
                "wait for it to finish or stop it (Ctrl-C or kill saves a checkpoint), "
                "or choose another --out",
                self.path,
            ) from None
        self._lock = handle

    def read_config_data(self) -> dict[str, Any]:
        """config.yaml as a mapping (one-line error if it is not one)."""
        with reading(self.config_path, "run config", RESTORE):
            data = load_yaml(self.config_path.read_text())
            if not isinstance(data, dict):
                raise ValueError(f"holds a {type(data).__name__}, not config fields")
            return data

    def read_eval(self) -> dict[str, Any]:
        """The final evaluation (eval.json), or {} if the run has none yet."""
        if not self.eval_path.exists():
            return {}
        with reading(self.eval_path, "evaluation file", "re-evaluate with `diffil eval`"):
            result = json.loads(self.eval_path.read_text())
            if not isinstance(result, dict):
                raise ValueError(f"holds a {type(result).__name__}, not evaluation results")
            return result

    def reading_checkpoint(self) -> AbstractContextManager[None]:
        """Context for restoring from the checkpoint: any failure is one :class:`DiffilError`."""
        return reading(self.checkpoint_dir, "checkpoint", RESTORE)

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS

    @property
    def policy_path(self) -> Path:
        return self.path / POLICY

    @property
    def best_policy_path(self) -> Path:
        return self.path / BEST_POLICY

    @property
    def eval_path(self) -> Path:
        return self.path / EVAL

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / "checkpoints" / "latest"

    # ---- metrics -----------------------------------------------------------------------------

    def log_metrics(self, row: dict[str, Any]) -> None:
        """Append one row to metrics.csv (columns fixed by the first row) and to TensorBoard."""
        header = self._metrics_header()
        with self.metrics_path.open("a" if header else "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header or list(row), extrasaction="ignore")
            if not header:
                writer.writeheader()
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        tb = self._tensorboard()
        if tb is not None:
            step = int(row.get("env_steps", row.get("step", 0)))
            for key, value in row.items():
                if isinstance(value, (int, float)) and key not in ("env_steps", "step"):
                    tb.add_scalar(key.replace(".", "/"), value, step)
            tb.flush()

    def _metrics_header(self) -> list[str] | None:
        if not self.metrics_path.exists():
            return None
        with self.reading_metrics(), self.metrics_path.open(newline="") as f:
            return next(csv.reader(f), None)

    def reading_metrics(self) -> AbstractContextManager[None]:
        """Context for parsing metrics.csv: any failure is one :class:`DiffilError`."""
        return reading(self.metrics_path, "metrics file", "restore it, or delete it")

    def read_metrics(self) -> list[dict[str, str]]:
        if not self.metrics_path.exists():
            return []
        with self.reading_metrics(), self.metrics_path.open(newline="") as f:
            return list(csv.DictReader(f))

    def truncate_metrics(self, after_step: int, key: str = "env_steps") -> None:
        """Drop rows logged after the checkpoint a resumed run restarts from."""
        header, rows = self._metrics_table()
        if header:
            kept = [r for r in rows if int(float(r.get(key) or 0)) <= after_step]
            self._write_metrics(header, kept)

    def record_final_evaluation(
        self, env_steps: int, evaluation: dict[str, Any], time_s: float
    ) -> None:
        """End the learning curve with the final evaluation (``eval_*`` columns): in the row at
        ``env_steps`` when the curve ends there (again, if a finished run is resumed), else in a
        row of its own. Curves without evaluation columns (offline methods) stay as they are."""
        header, rows = self._metrics_table()
        if not header or not set(evaluation) <= set(header):
            return
        values = {k: "" if v is None else v for k, v in evaluation.items()}
        if rows and int(float(rows[-1].get("env_steps") or -1)) == env_steps:
            rows[-1].update(values)
        else:
            rows.append({"env_steps": env_steps, "time_s": time_s, **values})
        self._write_metrics(header, rows)
        tb = self._tensorboard()
        if tb is not None:
            for key, value in evaluation.items():
                if isinstance(value, (int, float)):
                    tb.add_scalar(key, value, env_steps)
            tb.flush()

    def _metrics_table(self) -> tuple[list[str] | None, list[dict[str, str]]]:
        if not self.metrics_path.exists():
            return None, []
        with self.reading_metrics(), self.metrics_path.open(newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            return (list(reader.fieldnames) if reader.fieldnames else None), rows

    def _write_metrics(self, header: list[str], rows: list[dict[str, Any]]) -> None:
        with self.metrics_path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    def _tensorboard(self):
        if self._tb is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is optional for the run directory to work
                return None
            self._tb = SummaryWriter(str(self.path / "tb"))
        return self._tb

    def __enter__(self) -> RunDirectory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Flush TensorBoard and release the run's lock."""
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    # ---- checkpoints -------------------------------------------------------------------------

    def save_checkpoint(self, writers: dict[str, Callable[[Path], None]], state: dict) -> Path:
        """Write a checkpoint: ``writers`` map file names to functions writing them; ``state``
        (JSON-able: step counters, RNG seeds) goes to state.json. Atomic: staging + rename."""
        parent = self.checkpoint_dir.parent
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=parent))
        try:
            for name, write in writers.items():
                write(staging / name)
            (staging / STATE).write_text(json.dumps(state, indent=2))
            old = parent / ".previous"
            if old.exists():
                shutil.rmtree(old)
            if self.checkpoint_dir.exists():
                os.replace(self.checkpoint_dir, old)
            os.replace(staging, self.checkpoint_dir)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self.checkpoint_dir

    def load_state(self) -> dict[str, Any] | None:
        """state.json of the latest checkpoint (falling back to one left by an interrupted save)."""
        for folder in (self.checkpoint_dir, self.checkpoint_dir.parent / ".previous"):
            if (folder / STATE).is_file():
                if folder != self.checkpoint_dir:
                    os.replace(folder, self.checkpoint_dir)
                with self.reading_checkpoint():
                    state = json.loads((self.checkpoint_dir / STATE).read_text())
                    if not isinstance(state, dict):
                        raise ValueError(f"{STATE} holds a {type(state).__name__}, not a state")
                    return state
        return None

    def write_eval(self, result: dict[str, Any]) -> None:
        self.eval_path.write_text(json.dumps(result, indent=2))

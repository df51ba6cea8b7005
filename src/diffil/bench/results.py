"""Reading a bench folder back: each cell's score, budget and learning curve, or why it has none."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diffil.bench.cell import RUNS_DIR
from diffil.bench.manifest import MANIFEST, STATUS, read_json
from diffil.errors import DiffilError

FINISHED, FAILED, MISSING = "finished", "failed", "missing"


@dataclass
class CellResult:
    """One cell as the report sees it. ``score`` is success rate on tasks that define success,
    else the normalised return (else the raw return); None until the cell has finished."""

    name: str
    task: str
    regime: str
    method: str
    seed: int
    state: str
    error: str | None = None
    score: float | None = None
    metric: str = ""
    online: bool = True
    env_steps_budget: int | None = None
    gradient_steps_budget: int | None = None
    reached_90: dict[str, float] | None = None
    seconds: float | None = None
    curve: list[tuple[int, float]] = field(default_factory=list)  # (env steps, score)

    @property
    def path_parts(self) -> tuple[str, str, str]:
        return tuple(self.name.split("/"))  # type: ignore[return-value]


def _score(evaluation: dict[str, Any], task: str) -> tuple[float | None, str]:
    if evaluation.get("success_rate") is not None:
        return float(evaluation["success_rate"]), "success rate"
    if evaluation.get("normalized_return") is not None:
        return float(evaluation["normalized_return"]), "normalised return"
    if evaluation.get("return_mean") is not None:
        return float(evaluation["return_mean"]), "return"
    return None, ""


def _curve(rows: list[dict[str, str]], task: str) -> list[tuple[int, float]]:
    """(env steps, score) of a run's periodic evaluations, scored like its final one."""
    from diffil.envs.registry import get_task

    points = []
    reference = None
    for row in rows:
        success, ret = row.get("eval_success"), row.get("eval_return")
        if success:
            points.append((int(float(row["env_steps"])), float(success)))
        elif ret:
            if reference is None:
                spec = get_task(task)
                reference = spec.reference if spec.family != "maze" else False
            value = float(ret)
            points.append(
                (int(float(row["env_steps"])), reference.normalize(value) if reference else value)
            )
    return points


def read_cell(out: Path, name: str, info: dict[str, Any], status: dict[str, Any]) -> CellResult:
    """The result of cell ``name`` of the bench folder ``out``."""
    from diffil.algorithms.config import read_run_config
    from diffil.algorithms.methods import get_method
    from diffil.runs.run_dir import RunDirectory

    result = CellResult(
        name=name,
        task=str(info["task"]),
        regime=str(info["regime"]),
        method=str(info["method"]),
        seed=int(info["seed"]),
        state=MISSING,
        online=not get_method(str(info.get("base_method") or info["method"])).offline,
    )
    recorded = status.get(name) or {}
    path = out / RUNS_DIR / name
    try:
        run = RunDirectory.open(path)
        config = read_run_config(run)
        result.env_steps_budget = None if not result.online else config.steps
        result.gradient_steps_budget = config.bc.steps if not result.online else None
        evaluation = run.read_eval()
        rows = run.read_metrics() if evaluation and result.online else []
    except DiffilError as err:
        evaluation, rows = {}, []
        if recorded.get("state") != FAILED and path.exists():
            result.state, result.error = FAILED, str(err)
    if evaluation:
        result.state = FINISHED
        result.score, result.metric = _score(evaluation, result.task)
        result.reached_90 = evaluation.get("reached_90")
        result.seconds = evaluation.get("seconds")
        result.curve = _curve(rows, result.task)
    elif recorded.get("state") == FAILED:
        result.state, result.error = FAILED, recorded.get("error")
    return result


def read_bench(out: str | Path) -> tuple[dict[str, Any], list[CellResult]]:
    """The manifest (bench.json) and every cell's result of the bench folder ``out``."""
    out = Path(out)
    manifest = read_json(out / MANIFEST)
    if not manifest:
        raise DiffilError(
            f"not a bench folder (no {MANIFEST})", "pass the --out of `diffil bench run`", out
        )
    status = read_json(out / STATUS)
    cells = manifest.get("cells") or {}
    return manifest, [read_cell(out, name, info, status) for name, info in cells.items()]

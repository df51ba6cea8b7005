"""Comparing training runs: a table of final results and learning curves."""

from __future__ import annotations

from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from diffil.runs.run_dir import RunDirectory


def run_summary(run_dir: str | PathLike) -> dict[str, Any]:
    """Method, task, final evaluation and time-to-90% of one finished run."""
    run = RunDirectory.open(run_dir)
    config = run.read_config_data()
    evaluation = run.read_eval()
    return {
        "run": str(run.path),
        "method": config.get("method"),
        "task": config.get("task"),
        "seed": config.get("seed"),
        "success_rate": evaluation.get("success_rate"),
        "return_mean": evaluation.get("return_mean"),
        "normalized_return": evaluation.get("normalized_return"),
        "env_steps": evaluation.get("env_steps"),
        "seconds": evaluation.get("seconds"),
        "reached_90": evaluation.get("reached_90"),
    }


def comparison_table(run_dirs: Sequence[str | PathLike]) -> list[dict[str, Any]]:
    return [run_summary(r) for r in run_dirs]


def format_table(rows: list[dict[str, Any]]) -> str:
    """Markdown table of :func:`comparison_table` rows."""
    lines = [
        "| method | task | success | return | env steps | seconds | 90% reached at |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        success = "-" if r["success_rate"] is None else f"{r['success_rate']:.0%}"
        ret = "-" if r["return_mean"] is None else f"{r['return_mean']:.3g}"
        reached = r["reached_90"]
        at = f"{reached['env_steps']:,} steps, {reached['seconds']:.0f} s" if reached else "-"
        lines.append(
            f"| {r['method']} | {r['task']} | {success} | {ret} | {r['env_steps'] or 0:,} | "
            f"{r['seconds'] or 0:.0f} | {at} |"
        )
    return "\n".join(lines)


def plot_learning_curves(run_dirs: Sequence[str | PathLike], out: str | PathLike) -> Path:
    """Evaluation success (or return) against environment steps, one line per run."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ylabel = "evaluation return"
    for run_dir in run_dirs:
        run = RunDirectory.open(run_dir)
        summary = run_summary(run_dir)
        method = summary["method"]
        points = [r for r in run.read_metrics() if r.get("eval_return")]
        if not points:  # BC: no environment steps; show its final result as a level
            value = summary["success_rate"]
            if value is not None:
                ax.axhline(value, ls="--", lw=1.2, label=f"{method} (offline)", color="0.4")
            continue
        key = "eval_success" if points[0].get("eval_success") else "eval_return"
        ylabel = "evaluation success rate" if key == "eval_success" else ylabel
        with run.reading_metrics():
            steps = [int(float(r["env_steps"])) for r in points]
            values = [float(r[key]) for r in points]
        ax.plot(steps, values, marker="o", ms=3, label=f"{method} (seed {summary['seed']})")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out

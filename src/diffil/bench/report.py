"""The report of a bench folder: one static HTML page, its Markdown twin and the numbers as JSON.

Per protocol level (regime): a table of IQM and mean with 95% stratified-bootstrap CIs per
method, the share of runs reaching 90% and the env steps and wall-clock they took, learning
curves, performance profiles and (mazes) a learned-reward map per method. Each table states the
budget, seeds, machine and date, and which cells failed or are missing. Pictures are PNG files in
``<name>_files/`` beside the page.
"""

from __future__ import annotations

import html
import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diffil.bench.figures import method_scores, plot_learning_curves, plot_profiles, reward_map
from diffil.bench.results import FAILED, FINISHED, MISSING, CellResult, read_bench
from diffil.bench.runner import RUNS_DIR, run_history
from diffil.bench.stats import interval_estimate
from diffil.envs.registry import get_task
from diffil.errors import DiffilError
from diffil.utils.provenance import machine, utc_now, with_hand_notes

BOOTSTRAP_REPS = 10_000
BOOTSTRAP_SEED = 0


@dataclass
class Report:
    """Where the report was written, and its numbers."""

    html: Path
    markdown: Path
    json: Path
    data: dict[str, Any]


def _pct(x: float | None) -> str:
    return "-" if x is None or x != x else f"{100 * x:.1f}"


def _estimate(e: dict[str, float]) -> str:
    return f"{_pct(e['value'])} [{_pct(e['low'])}, {_pct(e['high'])}]"


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def method_row(cells: list[CellResult], method: str) -> dict[str, Any]:
    """A method's statistics at one level: IQM and mean with CIs, time to 90%."""
    mine = [c for c in cells if c.method == method]
    finished = [c for c in mine if c.state == FINISHED]
    scores = method_scores(cells, method)
    reached = [c.reached_90 for c in finished if c.reached_90]
    return {
        "method": method,
        "runs": len(finished),
        "cells": len(mine),
        "iqm": interval_estimate(scores, "iqm", BOOTSTRAP_REPS, BOOTSTRAP_SEED).to_dict(),
        "mean": interval_estimate(scores, "mean", BOOTSTRAP_REPS, BOOTSTRAP_SEED).to_dict(),
        "scores": {c.name: c.score for c in finished},
        "reached_90": len(reached),
        "env_steps_to_90": _median([float(r["env_steps"]) for r in reached]),
        "seconds_to_90": _median([float(r["seconds"]) for r in reached]),
        "run_seconds": _median([float(c.seconds) for c in finished if c.seconds is not None]),
    }


def _budget(cells: list[CellResult]) -> str:
    online = sorted({c.env_steps_budget for c in cells if c.env_steps_budget})
    offline = sorted({c.gradient_steps_budget for c in cells if c.gradient_steps_budget})
    parts = []
    if online:
        parts.append(f"{' / '.join(f'{s:,}' for s in online)} env steps (online methods)")
    if offline:
        parts.append(f"{' / '.join(f'{s:,}' for s in offline)} gradient steps (offline methods)")
    return "; ".join(parts) or "unknown (no cell has started)"


def _level(
    out: Path, files: Path, regime: str, cells: list[CellResult], methods: list[str]
) -> dict[str, Any]:
    """Numbers and pictures of one protocol level (``regime`` is its heading, e.g. ``cov50`` or
    ``hopper / default`` in a per-task report)."""
    tasks = sorted({c.task for c in cells})
    stem = regime.replace(" / ", "-").replace("/", "-")
    title = f"{regime} ({', '.join(tasks)})"
    pictures = {
        "learning curves": plot_learning_curves(
            cells, methods, title, files / f"curves-{stem}.png"
        ),
        "performance profiles": plot_profiles(cells, methods, title, files / f"profile-{stem}.png"),
    }
    maps, map_notes = {}, []
    for method in methods:
        done = sorted(
            (c for c in cells if c.method == method and c.state == FINISHED and c.online),
            key=lambda c: c.seed,
        )
        for cell in done[:1]:
            if get_task(cell.task).family != "maze":
                continue
            target = files / f"reward-{stem}-{method}.png"
            try:
                maps[f"{method} (seed {cell.seed})"] = reward_map(
                    out / RUNS_DIR / cell.name, target
                )
            except DiffilError as err:
                if target.is_file():  # e.g. a packed cell: its checkpoint stayed behind
                    maps[f"{method} (seed {cell.seed})"] = target
                    map_notes.append(
                        f"{method}: reward map drawn by an earlier report, not redrawn now "
                        f"({err.what})"
                    )
                else:
                    map_notes.append(f"{method}: no reward map ({err.what})")
    failed = [c for c in cells if c.state == FAILED]
    return {
        "regime": regime,
        "tasks": tasks,
        "metric": next((c.metric for c in cells if c.metric), "score"),
        "budget": _budget(cells),
        "seeds": sorted({c.seed for c in cells}),
        "rows": [method_row(cells, m) for m in methods],
        "failed": {c.name: c.error for c in failed},
        "missing": [c.name for c in cells if c.state == MISSING],
        "pictures": {k: str(p.relative_to(files.parent)) for k, p in pictures.items()},
        "reward_maps": {k: str(p.relative_to(files.parent)) for k, p in maps.items()},
        "reward_map_notes": map_notes,
    }


def _groups(
    cells: list[CellResult], regimes: list[str], tasks: list[str] | None
) -> list[tuple[str, list[CellResult]]]:
    """The report's levels: one per regime (tasks pooled), or with ``tasks`` (the suite's, in
    its order) one per task x regime."""
    groups = []
    if tasks is not None:
        tasks = [*tasks, *sorted({c.task for c in cells} - set(tasks))]
    for task in tasks or [None]:
        for regime in regimes:
            group = [c for c in cells if c.regime == regime and task in (None, c.task)]
            if group:
                groups.append((regime if task is None else f"{task} / {regime}", group))
    return groups


def _last_cell_finished(bench_dir: Path) -> str | None:
    """When the last cell that trained (not one reused) finished, from status.json."""
    from diffil.bench.cell import REUSED
    from diffil.bench.runner import STATUS, read_json

    status = read_json(bench_dir / STATUS)
    times = [v.get("when") for v in status.values() if v.get("state") != REUSED]
    return max((t for t in times if t), default=None)  # "YYYY-MM-DD HH:MM UTC" sorts as text


def build_report(bench_dir: str | Path, out: str | Path | None = None) -> Report:
    """Write ``out`` (default ``<bench_dir>/report.html``), its ``.md`` twin and ``.json``."""
    bench_dir = Path(bench_dir)
    manifest, cells = read_bench(bench_dir)
    html_path = Path(out) if out else bench_dir / "report.html"
    if html_path.suffix.lower() not in (".html", ".htm"):
        raise DiffilError("the report is an HTML file", "pass --out NAME.html", html_path)
    files = html_path.with_name(f"{html_path.stem}_files")
    files.mkdir(parents=True, exist_ok=True)
    suite = manifest.get("suite", {})
    methods = [m for m in suite.get("methods", []) if any(c.method == m for c in cells)]
    methods += sorted({c.method for c in cells} - set(methods))
    regimes = [r["name"] for r in suite.get("regimes", [])]
    regimes += sorted({c.regime for c in cells} - set(regimes))
    history = run_history(manifest)
    machines = list(dict.fromkeys(str(r.get("machine")) for r in history if r.get("machine")))
    data = {
        "suite": suite.get("name", bench_dir.name),
        "description": suite.get("description", ""),
        "command": manifest.get("command"),
        "runs": history,
        "packed": manifest.get("packed"),
        "machine": "; ".join(machines) or manifest.get("machine"),
        "executor": manifest.get("executor"),
        "versions": manifest.get("versions", {}),
        "runs_started": manifest.get("first_started"),
        "last_run": _last_cell_finished(bench_dir) or manifest.get("started"),
        "report_date": utc_now(),
        "report_machine": machine(),
        "statistics": (
            f"IQM and mean over seeds x tasks, 95% stratified-bootstrap percentile CIs "
            f"({BOOTSTRAP_REPS:,} resamples, seed {BOOTSTRAP_SEED}; Agarwal et al. 2021)"
        ),
        "levels": [
            _level(bench_dir, files, label, group, methods)
            for label, group in _groups(
                cells, regimes, suite.get("tasks", []) if suite.get("report_per_task") else None
            )
        ],
    }
    md_path = html_path.with_suffix(".md")
    json_path = html_path.with_suffix(".json")
    json_path.write_text(json.dumps(data, indent=2, default=float))
    md_path.write_text(with_hand_notes(md_path, render_markdown(data)))
    html_path.write_text(render_html(data))
    return Report(html_path, md_path, json_path, data)


def _table_rows(level: dict[str, Any]) -> list[list[str]]:
    rows = []
    for r in level["rows"]:
        steps = "-" if r["env_steps_to_90"] is None else f"{r['env_steps_to_90']:,.0f}"
        secs = "-" if r["seconds_to_90"] is None else f"{r['seconds_to_90']:,.0f}"
        run_secs = "-" if r.get("run_seconds") is None else f"{r['run_seconds']:,.0f}"
        rows.append(
            [
                r["method"],
                f"{r['runs']}/{r['cells']}",
                _estimate(r["iqm"]),
                _estimate(r["mean"]),
                f"{r['reached_90']}/{r['runs']}",
                steps,
                secs,
                run_secs,
            ]
        )
    return rows


HEADER = [
    "method",
    "runs",
    "IQM [95% CI]",
    "mean [95% CI]",
    "reached 90%",
    "env steps to 90% (median)",
    "wall-clock s to 90% (median)",
    "wall-clock s per run (median)",
]


def _conditions(data: dict[str, Any], level: dict[str, Any]) -> list[str]:
    lines = [
        f"score: {level['metric']} x 100 on {', '.join(level['tasks'])}",
        f"budget: {level['budget']}",
        f"seeds: {', '.join(map(str, level['seeds']))}",
        f"machine: {data['machine']}",
        f"date: first bench run started {data['runs_started']}, last cell finished "
        f"{data['last_run']}; report {data['report_date']}",
    ]
    failed = level["failed"]
    lines.append(
        "failed cells: "
        + ("none" if not failed else "; ".join(f"{k} ({v})" for k, v in failed.items()))
    )
    lines.append("missing cells: " + (", ".join(level["missing"]) or "none"))
    return lines


SUB_ITEM = "  "  # a line of _provenance_lines that belongs under the one before


def _provenance_lines(data: dict[str, Any], as_html: bool) -> list[str]:
    """The commands that filled the bench folder (each with its start and machine) and, for a
    packed folder, where it was packed from; as Markdown or as HTML list items' contents."""
    esc = html.escape if as_html else str

    def code(text: str) -> str:
        return f"<code>{esc(text)}</code>" if as_html else f"`{text}`"

    def bold(text: str) -> str:
        return f"<b>{text}</b>" if as_html else f"**{text}**"

    runs = [r for r in data.get("runs") or [] if r.get("command")]
    lines = []
    if len(runs) > 1:
        lines.append(f"{bold('commands')} (every run into this folder, oldest first):")
        lines += [
            f"{SUB_ITEM}{i}. {code(r['command'])} ({esc(str(r.get('started')))}, "
            f"{esc(str(r.get('machine')))})"
            for i, r in enumerate(runs, 1)
        ]
    elif data.get("command"):
        lines.append(f"{bold('command')}: {code(data['command'])}")
    packed = data.get("packed")
    if packed:
        lines.append(
            f"{bold('packed')}: {esc(str(packed.get('what')))} (from "
            f"{esc(str(packed.get('from')))}, {esc(str(packed.get('when')))})"
        )
    return lines


def render_markdown(data: dict[str, Any]) -> str:
    """The report as Markdown (pictures linked, relative to the file)."""
    md = [f"# Benchmark suite `{data['suite']}`", ""]
    if data["description"]:
        md += [data["description"], ""]
    md += [
        f"  {line.strip()}" if line.startswith(SUB_ITEM) else f"- {line}"
        for line in _provenance_lines(data, as_html=False)
    ]
    md += [
        f"- **machine**: {data['machine']}",
        f"- **executor**: {data['executor']}",
        f"- **versions**: {', '.join(f'{k} {v}' for k, v in data['versions'].items())}",
        f"- **statistics**: {data['statistics']}",
        "",
    ]
    for level in data["levels"]:
        md += [f"## {level['regime']}", ""]
        md += [f"- {line}" for line in _conditions(data, level)] + [""]
        md += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        md += ["| " + " | ".join(row) + " |" for row in _table_rows(level)]
        md += [""]
        for label, path in {**level["pictures"], **level["reward_maps"]}.items():
            md += [f"![{label}]({path})", ""]
        md += [f"- {note}" for note in level["reward_map_notes"]]
    return "\n".join(md).rstrip() + "\n"


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #bbb; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #eef; }
ul.conditions { font-size: 0.9em; color: #444; }
figure { display: inline-block; margin: 0.5em; }
img { max-width: 520px; border: 1px solid #ddd; }
"""


def render_html(data: dict[str, Any]) -> str:
    """The report as one static HTML page (pictures from the files folder beside it)."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>diffil bench: {e(data['suite'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>Benchmark suite <code>{e(data['suite'])}</code></h1>",
        f"<p>{e(data['description'])}</p>",
        "<ul>",
    ]
    parts += [f"<li>{line}</li>" for line in _provenance_lines(data, as_html=True)]
    parts += [
        f"<li><b>machine</b>: {e(str(data['machine']))}</li>",
        f"<li><b>executor</b>: {e(str(data['executor']))}</li>",
        f"<li><b>statistics</b>: {e(data['statistics'])}</li>",
        "</ul>",
    ]
    for level in data["levels"]:
        parts.append(f"<h2>{e(level['regime'])}</h2><ul class='conditions'>")
        parts += [f"<li>{e(line)}</li>" for line in _conditions(data, level)]
        parts.append("</ul><table><tr>" + "".join(f"<th>{e(h)}</th>" for h in HEADER) + "</tr>")
        for row in _table_rows(level):
            parts.append("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>")
        parts.append("</table>")
        for label, path in {**level["pictures"], **level["reward_maps"]}.items():
            parts.append(
                f"<figure><img src='{e(path)}' alt='{e(label)}'>"
                f"<figcaption>{e(label)}</figcaption></figure>"
            )
        if level["reward_map_notes"]:
            parts.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in level["reward_map_notes"]))
            parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"

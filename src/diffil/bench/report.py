"""The report of a bench folder: one static HTML page, its Markdown twin and the numbers as JSON.

Per protocol level (regime): a table of IQM and mean with 95% stratified-bootstrap CIs per
method, the share of runs reaching 90% and the env steps and wall-clock they took (beside the
references' published figure where the suite records one), the suite's focus method's margin
over every other method (IQM difference and probability of improvement, with CIs), learning
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

from diffil.bench.cell import RUNS_DIR
from diffil.bench.figures import (
    method_scores,
    plot_learning_curves,
    plot_profiles,
    plot_summary,
    reward_map,
)
from diffil.bench.manifest import run_history
from diffil.bench.results import FAILED, FINISHED, MISSING, CellResult, read_bench
from diffil.bench.reuse import trained_in
from diffil.bench.stats import difference_estimate, interval_estimate, probability_of_improvement
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


def margins(cells: list[CellResult], focus: str, methods: list[str]) -> list[dict[str, Any]]:
    """``focus``'s margin over each other method with finished runs: the IQM difference and the
    probability that a ``focus`` run beats one of the other method, each with its 95% CI, over
    the tasks both have runs of."""
    done = [c for c in cells if c.state == FINISHED and c.score is not None]
    out = []
    for other in methods:
        tasks = {c.task for c in done if c.method == focus} & {
            c.task for c in done if c.method == other
        }
        if other == focus or not tasks:
            continue
        shared = [c for c in done if c.task in tasks]
        mine, theirs = method_scores(shared, focus), method_scores(shared, other)
        difference = difference_estimate(mine, theirs, "iqm", BOOTSTRAP_REPS, BOOTSTRAP_SEED)
        better = probability_of_improvement(mine, theirs, BOOTSTRAP_REPS, BOOTSTRAP_SEED)
        out.append(
            {"method": other, "iqm_difference": difference.to_dict(), "p_better": better.to_dict()}
        )
    return out


def _budget(cells: list[CellResult]) -> str:
    online = sorted({c.env_steps_budget for c in cells if c.env_steps_budget})
    offline = sorted({c.gradient_steps_budget for c in cells if c.gradient_steps_budget})
    parts = []
    if online:
        parts.append(f"{' / '.join(f'{s:,}' for s in online)} env steps (online methods)")
    if offline:
        parts.append(f"{' / '.join(f'{s:,}' for s in offline)} gradient steps (offline methods)")
    return "; ".join(parts) or "unknown (no cell has started)"


def _seed_sets(cells: list[CellResult], methods: list[str]) -> list[dict[str, Any]]:
    """The level's seeds, grouped by the methods that ran them: one entry when every method
    has the same seeds, several when (say) BC ran 5 seeds and the online methods 3."""
    groups: dict[tuple[int, ...], list[str]] = {}
    for method in methods:
        seeds = tuple(sorted({c.seed for c in cells if c.method == method}))
        if seeds:
            groups.setdefault(seeds, []).append(method)
    return [{"seeds": list(seeds), "methods": names} for seeds, names in groups.items()]


def _seeds_text(level: dict[str, Any]) -> str:
    sets = level["seed_sets"]
    if len(sets) == 1:
        return ", ".join(map(str, sets[0]["seeds"]))
    return "; ".join(f"{', '.join(map(str, s['seeds']))} ({', '.join(s['methods'])})" for s in sets)


def _synthetic_demos(
    demonstrations: dict[str, dict[str, Any]], cells: list[CellResult]
) -> list[str]:
    """What the generator made for the augmented datasets ``cells`` trained on, one line each."""
    lines = []
    regimes, tasks = {c.regime for c in cells}, {c.task for c in cells}
    for name, d in sorted(demonstrations.items()):
        if d.get("task") not in tasks or not regimes & set(d.get("regimes", [])):
            continue
        rejected = ", ".join(f"{k} {v}" for k, v in (d.get("rejected") or {}).items()) or "none"
        gap = d.get("state_gap_median")
        gap_text = "" if gap is None else f"; median largest state gap {gap:.2f} demo std"
        lines.append(
            f"{d['task']}: {d.get('real')} real + {d.get('kept')} synthetic demonstrations "
            f"({d.get('generated')} generated by a Diffuser trained {d.get('train_steps')} "
            f"steps; rejected: {rejected}{gap_text}; file {name})"
        )
    return lines


def _level(
    out: Path,
    files: Path,
    regime: str,
    cells: list[CellResult],
    methods: list[str],
    demonstrations: dict[str, dict[str, Any]] | None = None,
    *,
    regime_name: str | None = None,
    focus: list[str] | None = None,
    published: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Numbers and pictures of one protocol level (``regime`` is its heading, e.g. ``cov50`` or
    ``hopper / default`` in a per-task report; ``regime_name`` the suite's regime, which
    ``published`` figures are keyed by)."""
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
    rows = [method_row(cells, m) for m in methods]
    paper = ((published or {}).get("scores") or {}).get(regime_name or regime, {})
    for row in rows:
        value = paper.get(row["method"])
        row["published"] = None if value is None else float(value) / 100  # scores are fractions
    tables = [
        {"focus": f, "margins": margins(cells, f, methods)}
        for f in focus or []
        if any(c.method == f and c.state == FINISHED for c in cells)
    ]
    return {
        "regime": regime,
        "tasks": tasks,
        "metric": next((c.metric for c in cells if c.metric), "score"),
        "budget": _budget(cells),
        "seeds": sorted({c.seed for c in cells}),
        "seed_sets": _seed_sets(cells, methods),
        "rows": rows,
        "published_source": (published or {}).get("source") if paper else None,
        # the first focus method's margins, then every focus method's (a table each)
        "focus": tables[0]["focus"] if tables else None,
        "margins": tables[0]["margins"] if tables else [],
        "margin_tables": tables,
        "failed": {c.name: c.error for c in failed},
        "missing": [c.name for c in cells if c.state == MISSING],
        "pictures": {k: str(p.relative_to(files.parent)) for k, p in pictures.items()},
        "reward_maps": {k: str(p.relative_to(files.parent)) for k, p in maps.items()},
        "reward_map_notes": map_notes,
        "synthetic_demos": _synthetic_demos(demonstrations or {}, cells),
    }


def _groups(
    cells: list[CellResult], regimes: list[str], tasks: list[str] | None
) -> list[tuple[str, str, list[CellResult]]]:
    """The report's levels as (heading, regime, cells): one per regime (tasks pooled), or with
    ``tasks`` (the suite's, in its order) one per task x regime."""
    groups = []
    if tasks is not None:
        tasks = [*tasks, *sorted({c.task for c in cells} - set(tasks))]
    for task in tasks or [None]:
        for regime in regimes:
            group = [c for c in cells if c.regime == regime and task in (None, c.task)]
            if group:
                groups.append((regime if task is None else f"{task} / {regime}", regime, group))
    return groups


def _last_cell_finished(bench_dir: Path) -> str | None:
    """When the last cell that trained (not one reused or copied in) finished, from status.json."""
    from diffil.bench.cell import COPIED, REUSED
    from diffil.bench.manifest import STATUS, read_json

    status = read_json(bench_dir / STATUS)
    times = [v.get("when") for v in status.values() if v.get("state") not in (REUSED, COPIED)]
    return max((t for t in times if t), default=None)  # "YYYY-MM-DD HH:MM UTC" sorts as text


def _as_list(focus: str | list[str] | None) -> list[str]:
    """A suite's focus as a list (bench.json from before lists kept one name)."""
    return [focus] if isinstance(focus, str) else list(focus or [])


def _variant_lines(data: dict[str, Any]) -> list[str]:
    """One line per variant method: what it trains and which settings it changes."""
    from diffil.utils.config import flatten_overrides

    lines = []
    for name, v in data.get("variants", {}).items():
        flat = flatten_overrides(v["overrides"])
        changes = ", ".join(f"{key}={json.dumps(value)}" for key, value in flat.items())
        about = f" ({v['description']})" if v.get("description") else ""
        lines.append(f"{name} = {v['method']} with {changes}{about}")
    return lines


def _shipped_suite(name: str | None) -> dict[str, Any]:
    """The shipped suite called ``name`` as a dict ({} if none ships by that name)."""
    from diffil.bench.suite import load_suite, shipped_suites

    if not name or name not in shipped_suites():
        return {}
    return load_suite(name).to_dict()


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
    # the order of the suite's own file where it ships (a run or pack of a selection stores
    # only the selection), then the recorded suite's, then any other
    shipped = _shipped_suite(suite.get("name"))
    methods = [
        m
        for m in dict.fromkeys([*shipped.get("methods", []), *suite.get("methods", [])])
        if any(c.method == m for c in cells)
    ]
    methods += sorted({c.method for c in cells} - set(methods))
    focus = _as_list(suite.get("focus") or shipped.get("focus"))
    # the methods the margins are about lead every table
    methods = [m for m in focus if m in methods] + [m for m in methods if m not in focus]
    names = [r["name"] for r in [*shipped.get("regimes", []), *suite.get("regimes", [])]]
    regimes = [r for r in dict.fromkeys(names) if any(c.regime == r for c in cells)]
    regimes += sorted({c.regime for c in cells} - set(regimes))
    history = run_history(manifest)
    # the machines of this folder's runs, and of the runs that trained the cells copied in
    origins = manifest.get("origins") or {}
    sources = {trained_in(r) for r in (manifest.get("copied") or {}).values()}
    behind = [r for f in sorted(sources) for r in (origins.get(f) or {}).get("history") or []]
    machines = list(
        dict.fromkeys(str(r.get("machine")) for r in [*history, *behind] if r.get("machine"))
    )
    data = {
        "suite": suite.get("name", bench_dir.name),
        "description": suite.get("description", ""),
        "command": manifest.get("command"),
        "runs": history,
        "packed": manifest.get("packed"),
        "copied": manifest.get("copied") or {},
        "origins": manifest.get("origins") or {},
        "machine": "; ".join(machines) or manifest.get("machine"),
        "executor": manifest.get("executor"),
        "variants": suite.get("variants") or {},
        "versions": manifest.get("versions", {}),
        # the first run behind any cell here, the copied ones' included (dates sort as text)
        "runs_started": min(
            [str(r["started"]) for r in behind if r.get("started")]
            + [str(manifest.get("first_started"))],
        ),
        "last_run": _last_cell_finished(bench_dir)
        or ("- (every cell was copied in)" if manifest.get("copied") else manifest.get("started")),
        "report_date": utc_now(),
        "report_machine": machine(),
        "statistics": (
            f"IQM and mean over seeds x tasks, 95% stratified-bootstrap percentile CIs "
            f"({BOOTSTRAP_REPS:,} resamples, seed {BOOTSTRAP_SEED}; Agarwal et al. 2021)"
        ),
        "levels": [
            _level(
                bench_dir,
                files,
                label,
                group,
                methods,
                manifest.get("demonstrations"),
                regime_name=regime,
                focus=focus,
                published=suite.get("published") or shipped.get("published"),
            )
            for label, regime, group in _groups(
                cells, regimes, suite.get("tasks", []) if suite.get("report_per_task") else None
            )
        ],
    }
    if len(data["levels"]) > 1:
        picture = plot_summary(data["levels"], methods, data["suite"], files / "summary.png")
        data["summary_picture"] = str(picture.relative_to(files.parent))
    md_path = html_path.with_suffix(".md")
    json_path = html_path.with_suffix(".json")
    json_path.write_text(json.dumps(data, indent=2, default=float))
    md_path.write_text(with_hand_notes(md_path, render_markdown(data)))
    html_path.write_text(render_html(data))
    return Report(html_path, md_path, json_path, data)


def _has_published(level: dict[str, Any]) -> bool:
    return any(r.get("published") is not None for r in level["rows"])


def _header(level: dict[str, Any]) -> list[str]:
    return HEADER + (["published"] if _has_published(level) else [])


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
            + ([_pct(r.get("published"))] if _has_published(level) else [])
        )
    return rows


def summary_rows(data: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Every method's IQM [95% CI] at every level (the published figure in parentheses where
    the suite records one), as a header and rows."""
    levels = data["levels"]
    methods = list(dict.fromkeys(r["method"] for lv in levels for r in lv["rows"]))
    rows = []
    for method in methods:
        row = [method]
        for lv in levels:
            r = next((r for r in lv["rows"] if r["method"] == method), None)
            text = "-" if r is None or not r["runs"] else _estimate(r["iqm"])
            if r is not None and r.get("published") is not None:
                text += f" ({_pct(r['published'])})"
            row.append(text)
        rows.append(row)
    return ["method", *(lv["regime"] for lv in levels)], rows


SUMMARY_CAPTION = (
    "Every level at a glance: IQM [95% CI] of the final score per method (the published figure "
    "in parentheses where the suite records one); the sections below have each level's details"
)


def _margin_header(level: dict[str, Any], table: dict[str, Any]) -> list[str]:
    focus = table["focus"]
    header = ["against", "IQM difference [95% CI]", f"P({focus} > other) [95% CI]"]
    return header + (["published difference"] if _has_published(level) else [])


def _margin_rows(level: dict[str, Any], table: dict[str, Any]) -> list[list[str]]:
    """A focus method's margin over each other method: points of IQM difference, the
    probability of improvement, and the difference of the published figures."""
    published = {r["method"]: r.get("published") for r in level["rows"]}
    mine = published.get(table["focus"])
    rows = []
    for m in table["margins"]:
        d, p = m["iqm_difference"], m["p_better"]
        row = [
            m["method"],
            f"{100 * d['value']:+.1f} [{100 * d['low']:+.1f}, {100 * d['high']:+.1f}]",
            f"{p['value']:.2f} [{p['low']:.2f}, {p['high']:.2f}]",
        ]
        if _has_published(level):
            theirs = published.get(m["method"])
            both = mine is not None and theirs is not None
            row.append(f"{100 * (mine - theirs):+.1f}" if both else "-")
        rows.append(row)
    return rows


def _margin_tables(level: dict[str, Any]) -> list[dict[str, Any]]:
    """A level's margin tables, one per focus method (a report JSON from before kept one)."""
    tables = level.get("margin_tables")
    if tables is None and level.get("margins"):
        tables = [{"focus": level["focus"], "margins": level["margins"]}]
    return [t for t in tables or [] if t["margins"]]


def _margin_caption(table: dict[str, Any]) -> str:
    focus = table["focus"]
    return (
        f"{focus}'s margin over each method: the difference of IQMs in points (each method's "
        f"seeds resampled independently) and the probability that a {focus} run scores above "
        f"a run of the other method (ties count one half; 0.5 is no difference)"
    )


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
        f"seeds: {_seeds_text(level)}",
        f"machine: {data['machine']}",
        f"date: first bench run started {data['runs_started']}, last cell finished "
        f"{data['last_run']}; report {data['report_date']}",
    ]
    lines += [f"demonstrations: {line}" for line in level.get("synthetic_demos", [])]
    if level.get("published_source"):
        lines.append(
            f"published: {level['published_source']} (reported beside ours as found; a different "
            "budget and machine)"
        )
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
        lines.append(f"{bold('commands')} (every run behind these cells, oldest first):")
        lines += [
            f"{SUB_ITEM}{i}. {code(r['command'])} ({esc(str(r.get('started')))}, "
            f"{esc(str(r.get('machine')))}"
            + (f", into {code(r['folder'])})" if r.get("folder") else ")")
            for i, r in enumerate(runs, 1)
        ]
    elif data.get("command"):
        lines.append(f"{bold('command')}: {code(data['command'])}")
    by_folder: dict[str, list[str]] = {}
    for name, record in sorted((data.get("copied") or {}).items()):
        by_folder.setdefault(trained_in(record), []).append(name)
    origins = data.get("origins") or {}
    listed: dict[str, str] = {}  # the runs already listed (a copy of a folder has its runs)
    for folder, names in by_folder.items():
        origin = origins.get(folder) or {}
        suite = f" (suite {code(origin['suite'])})" if origin.get("suite") else ""
        commands = [r for r in origin.get("history") or [] if r.get("command")]
        key = json.dumps(commands, sort_keys=True)
        same = listed.get(key) if commands else None
        listed.setdefault(key, folder)
        runs_text = (
            f"; the runs into that folder are those listed above for {code(same)}"
            if same
            else "; the runs into that folder, oldest first:"
            if commands
            else ""
        )
        lines.append(
            f"{bold('copied in')}: {len(names)} cells trained in {code(folder)}{suite} by its own "
            f"runs (same config, identical demonstrations; {code('--reuse')}), not by the "
            "commands above: " + ", ".join(code(n) for n in names) + runs_text
        )
        if commands and not same:
            lines += [
                f"{SUB_ITEM}{i}. {code(r['command'])} ({esc(str(r.get('started')))}, "
                f"{esc(str(r.get('machine')))})"
                for i, r in enumerate(commands, 1)
            ]
    packed = data.get("packed")
    if packed:
        lines.append(
            f"{bold('packed')}: {esc(str(packed.get('what')))} (from "
            f"{esc(str(packed.get('from')))}, {esc(str(packed.get('when')))})"
        )
    return lines


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows] + [""]


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    e = html.escape
    lines = ["<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"]
    lines += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows]
    return "\n".join([*lines, "</table>"])


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
        *(f"- **variant**: {line}" for line in _variant_lines(data)),
        f"- **versions**: {', '.join(f'{k} {v}' for k, v in data['versions'].items())}",
        f"- **statistics**: {data['statistics']}",
        "",
    ]
    if len(data["levels"]) > 1:
        md += ["## Summary", "", SUMMARY_CAPTION + ":", ""]
        md += _markdown_table(*summary_rows(data))
        if data.get("summary_picture"):
            md += [f"![summary]({data['summary_picture']})", ""]
    for level in data["levels"]:
        md += [f"## {level['regime']}", ""]
        md += [f"- {line}" for line in _conditions(data, level)] + [""]
        md += _markdown_table(_header(level), _table_rows(level))
        for table in _margin_tables(level):
            md += [_margin_caption(table) + ":", ""]
            md += _markdown_table(_margin_header(level, table), _margin_rows(level, table))
        for label, path in {**level["pictures"], **level["reward_maps"]}.items():
            md += [f"![{label}]({path})", ""]
        if level["reward_map_notes"]:
            md += [f"- {note}" for note in level["reward_map_notes"]] + [""]
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
        *(f"<li><b>variant</b>: {e(line)}</li>" for line in _variant_lines(data)),
        f"<li><b>statistics</b>: {e(data['statistics'])}</li>",
        "</ul>",
    ]
    if len(data["levels"]) > 1:
        parts += ["<h2>Summary</h2>", f"<p>{e(SUMMARY_CAPTION)}:</p>"]
        parts.append(_html_table(*summary_rows(data)))
        if data.get("summary_picture"):
            parts.append(
                f"<figure><img src='{e(data['summary_picture'])}' alt='summary'>"
                "<figcaption>summary</figcaption></figure>"
            )
    for level in data["levels"]:
        parts.append(f"<h2>{e(level['regime'])}</h2><ul class='conditions'>")
        parts += [f"<li>{e(line)}</li>" for line in _conditions(data, level)]
        parts.append("</ul>")
        parts.append(_html_table(_header(level), _table_rows(level)))
        for table in _margin_tables(level):
            parts.append(f"<p>{e(_margin_caption(table))}:</p>")
            parts.append(_html_table(_margin_header(level, table), _margin_rows(level, table)))
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

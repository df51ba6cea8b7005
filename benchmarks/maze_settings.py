"""Every maze_imitation results file of a task in one table: what was changed, and what it gave.

    python -m benchmarks.maze_settings [--tasks pointmaze-medium pointmaze-large]

benchmarks.maze_imitation writes one file per setting it was run with
(``results/maze_imitation_<task>[_<tag>].md``). Read one at a time they do not say which setting
helped; this script reads their JSON twins and writes ``results/maze_settings_<task>.md``: one row
per file and method with the overrides (the ``--set`` items of its command), the success of each
seed, the median, and the file's date, so a reader sees the settings side by side. It trains
nothing; every figure is copied from the file linked in its row, which names the command that
measured it.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
from pathlib import Path

from benchmarks.report import RESULTS, write_result


def overrides_of(command: str) -> list[str]:
    """The ``--set KEY=VALUE`` items of a benchmark command line."""
    words = shlex.split(command)
    return [words[i + 1] for i, word in enumerate(words[:-1]) if word == "--set"]


def rows_of(path: Path) -> list[dict]:
    """One row per method of a maze_imitation results file (files of other scripts: none)."""
    data = json.loads(path.read_text())
    if "rows" not in data or "maze_imitation" not in data.get("command", ""):
        return []
    tag = path.stem.split("_", 3)[3] if path.stem.count("_") >= 3 else "(preset)"
    found = []
    for method in dict.fromkeys(r["method"] for r in data["rows"]):
        seeds = sorted((r["seed"], r["success_100"]) for r in data["rows"] if r["method"] == method)
        found.append(
            {
                "file": path.with_suffix(".md").name,
                "tag": tag,
                "overrides": overrides_of(data["command"]),
                "method": method,
                "seeds": seeds,
                "median": statistics.median(s for _, s in seeds),
                "date": data.get("date", "?"),
            }
        )
    return found


def table(rows: list[dict]) -> str:
    lines = [
        "| results file | overrides (beyond the preset of its date) | method | seeds | "
        "success per seed | median | date |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| [{r['tag']}]({r['file']}) | "
            + (", ".join(f"`{o}`" for o in r["overrides"]) or "none")
            + f" | {r['method']} | {len(r['seeds'])} | "
            + ", ".join(f"{s:.0%}" for _, s in r["seeds"])
            + f" | {r['median']:.0%} | {r['date']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", nargs="+", default=["pointmaze-medium", "pointmaze-large"])
    args = parser.parse_args()
    for task in args.tasks:
        files = sorted(RESULTS.glob(f"maze_imitation_{task}*.json"))
        rows = [row for path in files for row in rows_of(path)]
        rows.sort(key=lambda r: r["date"])  # stable: a file's methods stay together, in order
        if not rows:
            print(f"{task}: no maze_imitation results files")
            continue
        text = (
            f"Every `benchmarks.maze_imitation` results file of {task} ({len(files)} files), "
            "one row per method, oldest first. A file's overrides are relative to the presets on "
            "its date: the presets changed as settings were adopted (see the preset files' "
            "comments and docs/tasks.md), so compare rows of the same date, or the rows a "
            "file's own notes compare. Success is over 100 evaluation episodes of each seed's "
            "final policy.\n\n" + table(rows)
        )
        name = f"maze_settings_{task}"
        title = f"Settings tried on {task}, side by side"
        print(f"wrote {write_result(name, title, text, {'rows': rows})}")


if __name__ == "__main__":
    main()

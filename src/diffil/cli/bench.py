"""``diffil bench``: benchmark suites run, reported and packed."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Column, Table

from diffil.cli.common import console, split_list
from diffil.errors import DiffilError


@click.group("bench")
def bench_group() -> None:
    """Benchmark suites: tasks x methods x seeds x regimes, with statistics and a report."""


@bench_group.command("list")
def bench_list() -> None:
    """List the shipped suites."""
    from diffil.bench import load_suite, shipped_suites

    table = Table(Column("suite", no_wrap=True), "cells", "about")
    for name in shipped_suites():
        suite = load_suite(name)
        shape = (
            f"{len(suite.tasks)} task(s) x {len(suite.regimes)} regimes "
            f"({', '.join(r.name for r in suite.regimes)}) x {len(suite.methods)} methods x "
            f"{len(suite.seeds)} seeds"
        )
        table.add_row(name, str(len(suite.cells())), f"{suite.description}; {shape}")
    console.print(table)
    console.print("run one: diffil bench run SUITE (a name above, or a suite YAML file)")


@bench_group.command("run")
@click.argument("suite")
@click.option("--methods", default=None, help="Comma-separated subset of the suite's methods.")
@click.option("--tasks", default=None, help="Comma-separated subset of the suite's tasks.")
@click.option(
    "--regimes", default=None, help="Comma-separated subset of the suite's regimes (levels)."
)
@click.option("--seeds", default=None, help="Comma-separated seeds (default: the suite's).")
@click.option(
    "--steps", type=click.IntRange(min=1), default=None, help="Env steps of online methods."
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Bench folder (default: bench/SUITE).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Local worker processes (one torch thread each).",
)
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[ADDRESS]",
    help="Run the cells as Ray tasks: on this machine, or on the cluster at ADDRESS.",
)
@click.option(
    "--reuse",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    multiple=True,
    help="A bench folder (or pack) whose finished cells with the same config and "
    "demonstrations (under the same regime name, else any) are copied in instead of trained; "
    "repeatable.",
)
def bench_run(
    suite: str,
    methods: str | None,
    tasks: str | None,
    regimes: str | None,
    seeds: str | None,
    steps: int | None,
    out: Path | None,
    workers: int,
    ray_address: str | None,
    reuse: tuple[Path, ...],
) -> None:
    """Train every cell of SUITE (a shipped name or a YAML file) into --out; finished cells
    are reused, interrupted ones resume, failed ones are recorded and the rest go on."""
    from diffil.bench import load_suite, run_suite

    chosen = load_suite(suite)
    seed_list = split_list(seeds, "seeds")
    try:
        seed_values = None if seed_list is None else [int(s) for s in seed_list]
    except ValueError:
        raise DiffilError(
            f"--seeds takes integers, got {seeds!r}", "pass e.g. --seeds 0,1,2"
        ) from None
    chosen = chosen.select(
        split_list(methods, "methods"),
        seed_values,
        steps,
        split_list(tasks, "tasks"),
        split_list(regimes, "regimes"),
    )
    target = out or Path("bench") / chosen.name
    summary = run_suite(
        chosen,
        target,
        workers=workers,
        use_ray=ray_address is not None,
        ray_address=ray_address or None,
        reuse=list(reuse),
        say=lambda line: console.print(line, highlight=False, soft_wrap=True),
    )
    failed = summary.failed
    console.print(
        f"{len(summary.outcomes) - len(failed)} cells finished ({summary.count('reused')} "
        f"reused, {summary.count('copied')} copied), {len(failed)} failed, in "
        f"{summary.seconds:.0f} s; report: diffil bench report {target}",
        highlight=False,
        soft_wrap=True,
    )
    if failed:
        raise click.exceptions.Exit(1)


@bench_group.command("report")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--out", type=click.Path(path_type=Path), default=None, help="HTML file (FOLDER/report.html)."
)
def bench_report(folder: Path, out: Path | None) -> None:
    """Write the report of a bench folder: HTML, its Markdown twin and the numbers as JSON."""
    from diffil.bench.report import build_report

    report = build_report(folder, out)
    console.print(f"wrote {report.html}, {report.markdown.name} and {report.json.name}")


@bench_group.command("pack")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for the packed cells (an earlier pack of the same suite is brought up to date).",
)
def bench_pack(folder: Path, out: Path) -> None:
    """Copy the finished cells of a bench folder, small files only (config, final and periodic
    evaluations), into a bench folder that can be kept in a repository: `bench report` reads it,
    and a `bench run` into a copy of it reuses its cells and trains the rest."""
    from diffil.bench.pack import pack_bench

    manifest = pack_bench(folder, out)
    console.print(
        f"packed {len(manifest['cells'])} finished cells into {out}; report: diffil bench "
        f"report {out}; to add cells elsewhere: copy {out} and pass the copy as --out",
        highlight=False,
        soft_wrap=True,
    )

"""`diffil bench`: suites, the runner (local pool and Ray), statistics and the report."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

import diffil
from diffil.algorithms.config import resolve_config
from diffil.bench import load_suite, run_suite, shipped_suites
from diffil.bench.cell import COPIED, FAILED, INTERRUPTED, RESUMED, REUSED, TRAINED
from diffil.bench.demos import demo_sources, ensure_demonstrations
from diffil.bench.pack import pack_bench
from diffil.bench.report import _seed_sets, _seeds_text, build_report
from diffil.bench.results import CellResult
from diffil.bench.runner import MANIFEST, STATUS, job_for
from diffil.bench.stats import (
    difference_estimate,
    interval_estimate,
    iqm,
    mean,
    performance_profile,
    probability_of_improvement,
)
from diffil.bench.suite import Cell
from diffil.cli import main
from diffil.envs.registry import list_tasks
from diffil.errors import DiffilError
from diffil.utils.provenance import HAND_NOTES

KILLED = "pointmaze-umaze/cov100/gail-s1"  # stopped after its checkpoint at 512 env steps
BROKEN = "pointmaze-umaze/cov50/bc-s1"  # a run directory whose config.yaml is garbage


def _cell(suite, name: str) -> Cell:
    return next(c for c in suite.cells() if c.name == name)


@pytest.fixture(scope="module")
def smoke_bench(tmp_path_factory):
    """The smoke suite run with 2 local workers into a folder holding a killed and a broken
    cell; returns (folder, summary, first metrics row of the killed cell)."""
    from diffil.algorithms.run import train

    out = tmp_path_factory.mktemp("bench") / "smoke"
    suite = load_suite("smoke")
    ensure_demonstrations(out, demo_sources(suite, suite.cells()), say=lambda _: None)
    job = job_for(_cell(suite, KILLED), suite, out)
    train(
        job.method,
        job.task,
        demos=job.demos,
        steps=512,
        seed=job.seed,
        out=job.path,
        overrides=job.overrides,
        progress=False,
    )
    killed = Path(job.path)
    (killed / "eval.json").unlink()  # as if killed after the checkpoint, before the end
    (killed / "policy.pt").unlink()
    first_row = (killed / "metrics.csv").read_text().splitlines()[1]
    broken = out / "runs" / BROKEN
    broken.mkdir(parents=True)
    (broken / "config.yaml").write_text("method: [unterminated\n")
    lines: list[str] = []
    summary = run_suite(suite, out, workers=2, say=lines.append)
    return out, summary, first_row, lines


def test_smoke_suite_runs_with_two_workers(smoke_bench):
    out, summary, _, lines = smoke_bench
    states = {name: o.state for name, o in summary.outcomes.items()}
    assert len(states) == 8
    assert sum(s == TRAINED for s in states.values()) == 6
    for name, state in states.items():
        if state in (TRAINED, RESUMED):
            evaluation = json.loads((out / "runs" / name / "eval.json").read_text())
            assert 0.0 <= evaluation["success_rate"] <= 1.0
            config = yaml.safe_load((out / "runs" / name / "config.yaml").read_text())
            assert config["num_demos"] == 10 and config["n_envs"] == 2
            assert config["coverage"] == (0.5 if "/cov50/" in name else 1.0)
            assert config["demos"].endswith(
                "cov0.5-noise1.hdf5" if "/cov50/" in name else "cov1-noise1.hdf5"
            )
    # one dataset per regime, shared by both methods and both seeds
    assert sorted(p.name for p in (out / "data").glob("*.hdf5")) == [
        "pointmaze-umaze-cov0.5-noise1.hdf5",
        "pointmaze-umaze-cov1-noise1.hdf5",
    ]
    assert lines[-1].startswith("cells: 7 done, 0 running, 1 failed, 8 total")
    assert any("ETA" in line for line in lines)
    assert json.loads((out / MANIFEST).read_text())["suite"]["name"] == "smoke"


def test_killed_cell_resumes_from_its_checkpoint(smoke_bench):
    out, summary, first_row, _ = smoke_bench
    assert summary.outcomes[KILLED].state == RESUMED
    killed = out / "runs" / KILLED
    assert json.loads((killed / "eval.json").read_text())["env_steps"] == 1024
    rows = (killed / "metrics.csv").read_text().splitlines()
    assert rows[1] == first_row  # the first 512 steps were kept, not trained again
    assert [r.split(",")[0] for r in rows[1:]] == ["512", "1024"]


def test_kill_stops_the_running_cells_and_starts_no_more(tmp_path, diffil_process):
    out = tmp_path / "bench"
    args = ["bench", "run", "smoke", "--methods", "gail", "--regimes", "cov100"]
    args += ["--seeds", "0,1,2,3", "--steps", "10000000", "--workers", "1", "--out", str(out)]
    process = diffil_process(args)
    first = out / "runs" / "pointmaze-umaze" / "cov100" / "gail-s0"
    deadline = time.monotonic() + 120
    while not (first / "metrics.csv").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert "Traceback" not in output, output
    # the running cell saved its checkpoint; the queued ones never started
    assert (first / "checkpoints" / "latest" / "state.json").is_file(), output
    assert [p.name for p in first.parent.iterdir()] == ["gail-s0"], output
    assert process.returncode == 130, output  # as after Ctrl-C
    assert "interrupted with 0 of 4 cells finished" in output, output
    status = json.loads((out / STATUS).read_text())  # only the started cell, as interrupted
    assert list(status) == ["pointmaze-umaze/cov100/gail-s0"], status
    assert status["pointmaze-umaze/cov100/gail-s0"]["state"] == INTERRUPTED


def test_failed_cell_is_recorded_and_the_others_finish(smoke_bench):
    out, summary, _, lines = smoke_bench
    failed = summary.outcomes[BROKEN]
    assert failed.state == FAILED and "cannot read this run config" in failed.error
    assert "\n" not in failed.error
    status = json.loads((out / STATUS).read_text())
    assert status[BROKEN]["state"] == FAILED and status[BROKEN]["error"] == failed.error
    assert any(line.startswith(f"failed {BROKEN}: ") for line in lines)
    assert len(summary.failed) == 1


def test_second_run_reuses_every_finished_cell(smoke_bench):
    out, first, _, _ = smoke_bench
    finished = [n for n, o in first.outcomes.items() if o.state != FAILED]
    stamps = {n: (out / "runs" / n / "eval.json").stat().st_mtime_ns for n in finished}
    again = run_suite(load_suite("smoke"), out, workers=2, say=lambda _: None)
    assert {n for n, o in again.outcomes.items() if o.state == REUSED} == set(finished)
    assert again.outcomes[BROKEN].state == FAILED  # a failed cell is tried again
    assert stamps == {n: (out / "runs" / n / "eval.json").stat().st_mtime_ns for n in finished}


def test_report_names_the_seeds_of_each_method_when_they_differ():
    def cells(method, seeds):
        return [CellResult(f"t/r/{method}-s{s}", "t", "r", method, s, "finished") for s in seeds]

    same = cells("bc", [0, 1, 2]) + cells("drail", [0, 1, 2])
    assert _seeds_text({"seeds": [0, 1, 2], "seed_sets": _seed_sets(same, ["drail", "bc"])}) == (
        "0, 1, 2"
    )
    mixed = cells("bc", range(5)) + cells("drail", [0, 1, 2]) + cells("gail", [0, 1, 2])
    level = {
        "seeds": list(range(5)),
        "seed_sets": _seed_sets(mixed, ["drail", "gail", "bc", "wail"]),
    }
    assert _seeds_text(level) == "0, 1, 2 (drail, gail); 0, 1, 2, 3, 4 (bc)"  # wail ran none


def test_report_renders_in_headless_chromium(smoke_bench, tmp_path):
    out, *_ = smoke_bench
    report = build_report(out, tmp_path / "smoke.html")
    md = report.markdown.read_text()
    # one row per level table, and one in the summary of both levels above them
    assert md.count("| bc |") == 3 and md.count("| gail |") == 3 and "## Summary" in md
    assert "budget: 1,024 env steps (online methods); 200 gradient steps" in md
    assert "seeds: 0, 1" in md and "machine: " in md and "date: first bench run started " in md
    for level in report.data["levels"]:
        for picture in [*level["pictures"].values(), *level["reward_maps"].values()]:
            assert (tmp_path / picture).stat().st_size > 1000
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        if os.environ.get("CI") or os.environ.get("DIFFIL_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is missing, but it could be installed: scripts/test.sh does")
        pytest.skip("chromium is not installed (apt-get install chromium; scripts/test.sh does)")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={shot}",
            "--window-size=1200,1600",
            report.html.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (1600, 1200)
    assert pixels[..., :3].std() > 0.05  # text, tables and pictures, not a blank page


def test_a_packed_folder_reports_the_same_and_a_run_into_it_reuses_its_cells(
    smoke_bench, tmp_path, capsys
):
    """`bench pack` keeps config, eval and the evaluation rows of each finished cell: the report
    reads the same numbers and curves, and a further run trains only what is missing."""
    from diffil.bench.results import read_bench

    out, summary, _, _ = smoke_bench
    packed = tmp_path / "packed"
    assert main(["bench", "pack", str(out), "--out", str(packed)]) == 0
    finished = sorted(n for n, o in summary.outcomes.items() if o.state != FAILED)
    assert sorted(json.loads((packed / MANIFEST).read_text())["cells"]) == finished
    files = [p.relative_to(packed).as_posix() for p in packed.rglob("*") if p.is_file()]
    assert not [f for f in files if "checkpoints" in f or f.endswith((".pt", ".hdf5", ".zip"))]
    curves = {c.name: (c.score, c.curve) for c in read_bench(out)[1] if c.name in finished}
    assert curves == {c.name: (c.score, c.curve) for c in read_bench(packed)[1]}
    assert any(curve for _, curve in curves.values())  # the online cells' periodic evaluations

    original = build_report(out, tmp_path / "report.html")
    again = build_report(packed, tmp_path / "report.html")  # the same files folder
    for before, after in zip(original.data["levels"], again.data["levels"], strict=True):
        for row_before, row_after in zip(before["rows"], after["rows"], strict=True):
            assert {k: v for k, v in row_before.items() if k != "cells"} == {
                k: v for k, v in row_after.items() if k != "cells"
            }
        # no checkpoint to redraw it from: the earlier report's reward map is kept, and said so
        assert after["reward_maps"] == before["reward_maps"] != {}
        assert any("drawn by an earlier report" in note for note in after["reward_map_notes"])
    assert "**packed**: finished cells only" in again.markdown.read_text()

    grown = tmp_path / "grown"
    shutil.copytree(packed, grown)
    more = run_suite(load_suite("smoke"), grown, workers=1, say=lambda _: None)
    assert {n for n, o in more.outcomes.items() if o.state == REUSED} == set(finished)
    assert more.outcomes[BROKEN].state == TRAINED  # the one cell the pack did not have
    history = json.loads((grown / MANIFEST).read_text())["history"]
    assert len(history) == len(json.loads((packed / MANIFEST).read_text())["history"]) + 1
    # a run that would train those cells otherwise (here: another budget) refuses, in one line,
    # before it writes anything: one folder never holds two protocols under one cell name
    before = {p: p.read_bytes() for p in grown.rglob("*") if p.is_file()}
    assert main(["bench", "run", "smoke", "--steps", "2048", "--out", str(grown)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "were trained with other settings than this command" in err
    assert "pointmaze-umaze/cov100/gail-s0 (steps)" in err and "run into another --out" in err
    assert {p: p.read_bytes() for p in grown.rglob("*") if p.is_file()} == before
    # and another suite's run into it is refused first, whatever its cells' settings
    other = yaml.safe_load((Path(diffil.__file__).parent / "configs/suites/smoke.yaml").read_text())
    (tmp_path / "other.yaml").write_text(yaml.safe_dump({**other, "name": "other"}))
    assert main(["bench", "run", str(tmp_path / "other.yaml"), "--out", str(grown)]) == 2
    assert "holds results of suite 'smoke', not 'other'" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in grown.rglob("*") if p.is_file()} == before
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(DiffilError, match="is a file, not a folder"):
        pack_bench(out, tmp_path / "a-file")
    with pytest.raises(DiffilError, match="not a bench folder"):
        pack_bench(tmp_path / "nowhere", tmp_path / "packed-2")


def test_cells_of_another_folder_with_the_same_config_and_demos_are_copied_in(
    smoke_bench, tmp_path
):
    """`--reuse`: a finished cell another folder trained with this cell's config and
    identical demonstrations is copied instead of trained, and the report says so; a cell whose
    config or demonstrations differ is not."""
    from dataclasses import replace

    from diffil.bench.reuse import why_not_reusable

    out, first, _, _ = smoke_bench
    finished = sorted(n for n, o in first.outcomes.items() if o.state != FAILED)
    fresh = tmp_path / "fresh"
    assert main(["bench", "run", "smoke", "--out", str(fresh), "--reuse", str(out)]) == 0
    states = {n: s["state"] for n, s in json.loads((fresh / STATUS).read_text()).items()}
    assert {n for n, state in states.items() if state == COPIED} == set(finished)
    assert states[BROKEN] == TRAINED  # the source has no finished run of it
    for name in finished:
        assert (fresh / "runs" / name / "eval.json").read_bytes() == (
            out / "runs" / name / "eval.json"
        ).read_bytes()
    manifest = json.loads((fresh / MANIFEST).read_text())
    copied = manifest["copied"]
    assert sorted(copied) == finished
    assert copied[finished[0]]["folder"] == copied[finished[0]]["trained_in"] == str(out.resolve())
    # the source's suite and runs are kept, so the report names the commands that trained them
    source_runs = json.loads((out / MANIFEST).read_text())["history"]
    assert manifest["origins"] == {str(out.resolve()): {"suite": "smoke", "history": source_runs}}
    report = build_report(fresh, tmp_path / "report.html").markdown.read_text()
    assert (
        f"**copied in**: {len(finished)} cells trained in `{out.resolve()}` (suite `smoke`)"
        in report
    )
    assert f"first bench run started {source_runs[0]['started']}," in report  # theirs
    # a copy of a copy still names the folder whose runs trained the cell, and those runs (a
    # run from Python records no command: one is written in here so that the report shows it)
    manifest = json.loads((fresh / MANIFEST).read_text())
    first_run = manifest["origins"][str(out.resolve())]["history"][0]
    first_run.update(command="diffil bench run smoke", machine="another machine")
    (fresh / MANIFEST).write_text(json.dumps(manifest))
    again = tmp_path / "again"
    assert main(["bench", "run", "smoke", "--out", str(again), "--reuse", str(fresh)]) == 0
    manifest = json.loads((again / MANIFEST).read_text())
    assert {r["trained_in"] for r in manifest["copied"].values()} >= {str(out.resolve())}
    assert set(manifest["origins"]) == {str(out.resolve()), str(fresh.resolve())}
    report = build_report(again, tmp_path / "again.html").markdown.read_text()
    assert f"cells trained in `{out.resolve()}` (suite `smoke`)" in report
    assert "; the runs into that folder, oldest first:\n  1. `diffil bench run smoke` (" in report
    assert "- **machine**: " in report and "; another machine" in report  # and where they ran
    assert "last cell finished - (every cell was copied in)" in report  # none trained there
    # a pack keeps the record of what was copied, and the demonstrations' digests
    pack_bench(fresh, tmp_path / "packed")
    packed = json.loads((tmp_path / "packed" / MANIFEST).read_text())
    assert packed["copied"] == copied
    assert packed["data"] == json.loads((fresh / MANIFEST).read_text())["data"] != {}

    suite = load_suite("smoke")
    job = job_for(_cell(suite, "pointmaze-umaze/cov100/gail-s0"), suite, fresh)
    source = out / "runs" / job.name
    assert why_not_reusable(job, source, out) is None
    assert why_not_reusable(replace(job, steps=2048), source, out) == "its config differs (steps)"
    other = tmp_path / "other.hdf5"
    shutil.copyfile(job.demos, other)
    with h5py.File(other, "r+") as f:  # one action of one episode changed
        episode = sorted(k for k in f if k.startswith("episode_"))[0]
        f[episode]["actions"][0, 0] += 0.01
    assert why_not_reusable(replace(job, demos=str(other)), source, out) == (
        "its demonstrations differ"
    )
    assert why_not_reusable(job, out / "runs" / BROKEN, out) == "not finished there"
    # from a pack whose bench folder is gone: its demonstrations are compared by the digest the
    # pack recorded for them (it keeps digests, not files)
    pack = tmp_path / "packed"
    packed_cell = pack / "runs" / job.name
    config = yaml.safe_load((packed_cell / "config.yaml").read_text())
    config["demos"] = f"/gone/data/{Path(config['demos']).name}"
    (packed_cell / "config.yaml").write_text(yaml.safe_dump(config))
    assert why_not_reusable(job, packed_cell, pack) is None
    manifest = json.loads((pack / MANIFEST).read_text())
    manifest["data"][Path(job.demos).name]["digest"] = "0" * 64
    (pack / MANIFEST).write_text(json.dumps(manifest))
    assert why_not_reusable(job, packed_cell, pack) == "its demonstrations differ"
    del manifest["data"][Path(job.demos).name]
    (pack / MANIFEST).write_text(json.dumps(manifest))
    assert why_not_reusable(job, packed_cell, pack).startswith("its demonstrations (/gone/data/")


def test_a_level_of_another_name_is_copied_from_the_regime_that_trained_it(smoke_bench, tmp_path):
    """One suite's level can be another's under another name (maze-data-efficiency's demos100
    is maze-generalisation's cov100): `--reuse` finds it under any regime of the source, and the
    config and demonstrations still decide."""
    out, *_ = smoke_bench
    data = yaml.safe_load((Path(diffil.__file__).parent / "configs/suites/smoke.yaml").read_text())
    data.update(name="smoke-levels", methods=["bc"], seeds=1)
    data["regimes"] = [
        {"name": "every-cell", "coverage": 1.0, "demos": 10},  # smoke's cov100
        {"name": "five-demos", "coverage": 1.0, "demos": 5},  # no level of smoke
    ]
    suite_file = tmp_path / "levels.yaml"
    suite_file.write_text(yaml.safe_dump(data))
    fresh = tmp_path / "levels"
    assert main(["bench", "run", str(suite_file), "--out", str(fresh), "--reuse", str(out)]) == 0
    states = {n: s["state"] for n, s in json.loads((fresh / STATUS).read_text()).items()}
    assert states == {
        "pointmaze-umaze/every-cell/bc-s0": COPIED,
        "pointmaze-umaze/five-demos/bc-s0": TRAINED,  # num_demos differs from every source cell
    }
    copied = json.loads((fresh / MANIFEST).read_text())["copied"]
    source = out / "runs" / "pointmaze-umaze" / "cov100" / "bc-s0"
    assert copied["pointmaze-umaze/every-cell/bc-s0"]["from"] == str(source.resolve())
    assert (fresh / "runs/pointmaze-umaze/every-cell/bc-s0/eval.json").read_bytes() == (
        source / "eval.json"
    ).read_bytes()


def _smoke_suite_file(tmp_path: Path, name: str, **changes) -> Path:
    """The smoke suite's cov100 level, one seed, with ``changes``, as a YAML file."""
    data = yaml.safe_load((Path(diffil.__file__).parent / "configs/suites/smoke.yaml").read_text())
    data.update(name=name, seeds=1, regimes=data["regimes"][:1], **changes)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_variant_is_a_method_of_its_own_trained_with_its_overrides(smoke_bench, tmp_path):
    """A suite's variant (BC with a smaller learning rate) trains its base method with the
    variant's overrides on top of the suite's, in cells, rows and margins of its own name beside
    the base method's; its cell is copied from a folder that ran the base method with those
    overrides for every cell (the config check decides), and never from a plain cell of the
    base method."""
    from diffil.algorithms.config import read_run_config

    out, *_ = smoke_bench
    slow = {"bc": {"learning_rate": 1e-4}}
    variant = {"bc-slow": {"method": "bc", "overrides": slow, "description": "BC, lr 1e-4"}}
    suite_file = _smoke_suite_file(
        tmp_path,
        "smoke-variant",
        methods=["bc", "bc-slow"],
        variants=variant,
        focus=["bc-slow", "bc"],
    )
    suite = load_suite(suite_file)
    cell = _cell(suite, "pointmaze-umaze/cov100/bc-slow-s0")
    assert (cell.method, cell.base_method) == ("bc-slow", "bc")
    job = job_for(cell, suite, tmp_path)
    assert job.method == "bc" and job.overrides["bc"] == {"learning_rate": 1e-4, "steps": 200}
    assert job.overrides["n_envs"] == 2  # the suite's overrides too

    # a folder whose suite ran plain BC with the variant's overrides, and one of plain BC
    everywhere = tmp_path / "everywhere"
    overrides = yaml.safe_load(suite_file.read_text())["overrides"]
    base_file = _smoke_suite_file(
        tmp_path, "smoke-slow", methods=["bc"], overrides={**overrides, **slow}
    )
    assert main(["bench", "run", str(base_file), "--out", str(everywhere)]) == 0
    fresh = tmp_path / "fresh"
    args = ["bench", "run", str(suite_file), "--out", str(fresh)]
    assert main([*args, "--reuse", str(out), "--reuse", str(everywhere)]) == 0  # plain first
    states = {n: s["state"] for n, s in json.loads((fresh / STATUS).read_text()).items()}
    assert states == {
        "pointmaze-umaze/cov100/bc-s0": COPIED,
        "pointmaze-umaze/cov100/bc-slow-s0": COPIED,
    }
    copied = json.loads((fresh / MANIFEST).read_text())["copied"]
    assert copied["pointmaze-umaze/cov100/bc-slow-s0"]["from"] == str(
        (everywhere / "runs/pointmaze-umaze/cov100/bc-s0").resolve()
    )
    assert copied["pointmaze-umaze/cov100/bc-s0"]["from"] == str(
        (out / "runs/pointmaze-umaze/cov100/bc-s0").resolve()
    )
    run = fresh / "runs/pointmaze-umaze/cov100/bc-slow-s0"
    assert read_run_config(run).bc.learning_rate == 1e-4
    cells = json.loads((fresh / MANIFEST).read_text())["cells"]
    assert cells["pointmaze-umaze/cov100/bc-slow-s0"]["base_method"] == "bc"

    report = build_report(fresh, tmp_path / "report.html")
    (level,) = report.data["levels"]
    assert [r["method"] for r in level["rows"]] == ["bc-slow", "bc"]  # the focus methods lead
    assert [(t["focus"], [m["method"] for m in t["margins"]]) for t in level["margin_tables"]] == [
        ("bc-slow", ["bc"]),
        ("bc", ["bc-slow"]),
    ]
    assert next(r for r in level["rows"] if r["method"] == "bc-slow")["runs"] == 1
    md = report.markdown.read_text()
    assert "- **variant**: bc-slow = bc with bc.learning_rate=0.0001 (BC, lr 1e-4)" in md
    assert md.count("'s margin over each method") == 2


def test_demonstrations_made_again_must_match_the_recorded_digest(smoke_bench, tmp_path):
    """bench.json records each collected dataset's episodes and content digest; collecting it
    again (a copy of a pack has no data) gives the same content, and a changed file is a
    one-line error instead of cells silently trained on other demonstrations."""
    from diffil.bench.demos import check_recorded

    out, *_ = smoke_bench
    suite = load_suite("smoke")
    sources = demo_sources(suite, suite.cells())
    recorded = json.loads((out / MANIFEST).read_text())["data"]
    assert sorted(recorded) == [
        "pointmaze-umaze-cov0.5-noise1.hdf5",
        "pointmaze-umaze-cov1-noise1.hdf5",
    ]
    assert {r["episodes"] for r in recorded.values()} == {10}
    copy = tmp_path / "copy"
    ensure_demonstrations(copy, sources, say=lambda _: None)  # collected again, a new file
    assert check_recorded(copy, sources, recorded) == recorded
    changed = copy / "data" / "pointmaze-umaze-cov1-noise1.hdf5"
    with h5py.File(changed, "r+") as f:
        f["episode_0"]["actions"][0, 0] += 0.01
    with pytest.raises(DiffilError, match="holds other demonstrations than the ones"):
        check_recorded(copy, sources, recorded)
    # nor are two folders whose demonstrations differ packed together: the pack is left as it was
    packed = tmp_path / "packed"
    pack_bench(out, packed)
    before = (packed / MANIFEST).read_text()
    other = tmp_path / "other"
    shutil.copytree(out, other)
    manifest = json.loads((other / MANIFEST).read_text())
    manifest["data"][changed.name]["digest"] = "0" * 64
    (other / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(DiffilError, match="holds other demonstrations than the ones"):
        pack_bench(other, packed)
    assert (packed / MANIFEST).read_text() == before


def test_report_header_lists_every_run_into_the_folder():
    from diffil.bench.report import render_markdown

    data = {
        "suite": "s",
        "description": "",
        "command": "diffil bench run s --seeds 1",
        "runs": [
            {"command": "diffil bench run s --seeds 0", "machine": "A", "started": "day 1"},
            {"command": "diffil bench run s --seeds 1", "machine": "B", "started": "day 2"},
        ],
        "machine": "A; B",
        "executor": "local pool, 1 workers",
        "versions": {},
        "statistics": "IQM",
        "levels": [],
    }
    md = render_markdown(data)
    assert "- **commands** (every run behind these cells, oldest first):" in md
    assert "  1. `diffil bench run s --seeds 0` (day 1, A)" in md
    assert "  2. `diffil bench run s --seeds 1` (day 2, B)" in md

    # cells copied from a folder and from a copy of it: the runs behind them are listed once
    runs = [{"command": "diffil bench run t", "machine": "C", "started": "day 0"}]
    data["copied"] = {"a/l/bc-s0": {"trained_in": "/x"}, "a/l/bc-s1": {"trained_in": "/y"}}
    data["origins"] = {f: {"suite": "t", "history": runs} for f in ("/x", "/y")}
    md = render_markdown(data)
    assert md.count("`diffil bench run t` (day 0, C)") == 1
    assert "`a/l/bc-s1`; the runs into that folder are those listed above for `/x`" in md


def test_smoke_suite_runs_on_local_ray(tmp_path, monkeypatch):
    """The Ray that diffil starts runs its cells at normal priority: at Ray's default nice 15
    this test took 407 s beside three training processes on 2 cores, 53 s at nice 0."""
    ray = pytest.importorskip("ray", reason="ray is in the test extra")
    from diffil.bench.executors import WORKER_NICENESS, RayTasks

    monkeypatch.delenv(WORKER_NICENESS, raising=False)
    executor = RayTasks()  # starts Ray on this machine
    try:
        assert ray.get(ray.remote(lambda: os.nice(0)).remote()) == os.nice(0)
        suite = load_suite("smoke").select(methods=["bc"], seeds=[0])
        summary = run_suite(suite, tmp_path, use_ray=True, say=lambda _: None)  # that session
        assert ray.is_initialized()  # one it did not start is left running
    finally:
        executor.close()
    assert not ray.is_initialized()
    assert {o.state for o in summary.outcomes.values()} == {TRAINED}
    assert len(summary.outcomes) == 2
    for name in summary.outcomes:
        assert "success_rate" in json.loads((tmp_path / "runs" / name / "eval.json").read_text())


# ---- statistics on known numbers ------------------------------------------------------------


def test_iqm_and_mean_by_hand():
    assert iqm(np.arange(1.0, 9.0)) == pytest.approx(4.5)  # 8 scores: mean of 3, 4, 5, 6
    assert iqm(np.array([[5.0, np.nan], [1.0, 4.0], [2.0, 3.0]])) == pytest.approx(3.0)
    assert iqm(np.array([0.0, 0.0, 1.0, 1.0, 1.0, 100.0])) == pytest.approx(0.75)  # cut 0 and 100
    assert mean(np.array([1.0, 2.0, np.nan, 6.0])) == pytest.approx(3.0)


def _bootstrap_by_hand(columns: list[np.ndarray], stat, reps: int, seed: int) -> tuple:
    """The stratified percentile bootstrap written out: per task, draw its own runs."""
    rng = np.random.default_rng(seed)
    draws = [c[rng.integers(0, len(c), size=(reps, len(c)))] for c in columns]
    values = [stat(np.concatenate([d[r] for d in draws])) for r in range(reps)]
    return tuple(np.percentile(values, [2.5, 97.5]))


def _iqm_by_hand(x: np.ndarray) -> float:
    x = np.sort(x)
    k = int(len(x) * 0.25)
    return float(x[k : len(x) - k].mean())


def test_confidence_intervals_reproduce_a_direct_computation():
    a, b = np.array([0.2, 0.9, 0.5, 0.7, 0.4]), np.array([0.1, 0.95, 0.6])
    scores = np.full((5, 2), np.nan)
    scores[:, 0], scores[:3, 1] = a, b
    for name, stat in (("iqm", _iqm_by_hand), ("mean", np.mean)):
        estimate = interval_estimate(scores, name, reps=500, seed=7)
        assert estimate.value == pytest.approx(stat(np.concatenate([a, b])))
        low, high = _bootstrap_by_hand([a, b], stat, reps=500, seed=7)
        assert (estimate.low, estimate.high) == pytest.approx((low, high))
        assert estimate.low <= estimate.value <= estimate.high
    # stratified: a task with one run is in every resample, so it never leaves the mean
    lone = np.array([[1000.0, 0.0], [np.nan, 1.0]])
    bounded = interval_estimate(lone, "mean", reps=300)
    assert bounded.low >= 1000 / 3 - 1e-9 and bounded.high <= 1002 / 3 + 1e-9
    constant = interval_estimate(np.full((4, 1), 0.8), "iqm", reps=100)
    assert (constant.low, constant.value, constant.high) == pytest.approx((0.8, 0.8, 0.8))


def test_margins_between_two_methods_by_hand():
    a, b = np.array([0.9, 0.8, 0.85, 0.95, 0.7]), np.array([0.6, 0.7, 0.8, 0.9, 0.5])
    diff = difference_estimate(a, b, "iqm", reps=400, seed=3)
    assert diff.value == pytest.approx(_iqm_by_hand(a) - _iqm_by_hand(b))
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(4)
    draws = [
        _iqm_by_hand(a[rng_a.integers(0, 5, 5)]) - _iqm_by_hand(b[rng_b.integers(0, 5, 5)])
        for _ in range(400)
    ]
    # the library draws all resamples at once: the same numbers as one resample at a time
    assert (diff.low, diff.high) == pytest.approx(tuple(np.percentile(draws, [2.5, 97.5])))
    # P(X > Y) counts pairs: 1 vs (2, 2) loses twice, 2 ties twice, 3 wins twice -> 3 / 6
    assert probability_of_improvement(np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0])).value == 0.5
    assert probability_of_improvement(a + 1, b).value == 1.0
    assert probability_of_improvement(a, a + 1).value == 0.0
    # averaged over the tasks both methods have runs of
    two = probability_of_improvement(np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([[0.0, 1.0]]))
    assert two.value == pytest.approx(0.5)
    missing = probability_of_improvement(np.array([[1.0, np.nan]]), np.array([[0.0, 1.0]]))
    assert missing.value == 1.0


def test_performance_profile_averages_tasks():
    scores = np.array([[0.2, 0.9], [0.6, 0.9], [1.0, np.nan]])
    profile = performance_profile(scores, np.array([0.0, 0.5, 0.95]))
    assert profile == pytest.approx([1.0, (2 / 3 + 1) / 2, (1 / 3 + 0) / 2])


def _fake_run(path: Path, method: str, seed: int, success: float | None) -> None:
    path.mkdir(parents=True)
    config = resolve_config(method, "pointmaze-umaze", {"seed": seed})
    (path / "config.yaml").write_text(config.to_yaml())
    if success is not None:
        result = {"success_rate": success, "return_mean": success, "env_steps": 0}
        (path / "eval.json").write_text(json.dumps({**result, "seconds": 3.0}))


def test_report_numbers_equal_a_direct_computation(tmp_path):
    known = {"bc": [0.2, 0.9, 0.5, 0.7, 0.4], "flow-policy": [0.6, 0.6, 1.0, 0.8, None]}
    cells = {}
    for method, scores in known.items():
        for seed, score in enumerate(scores):
            name = f"pointmaze-umaze/lvl/{method}-s{seed}"
            info = {"task": "pointmaze-umaze", "regime": "lvl", "method": method, "seed": seed}
            cells[name] = info
            if score is not None or method != "flow-policy":
                _fake_run(tmp_path / "runs" / name, method, seed, score)
    cells["pointmaze-umaze/lvl/bc-s9"] = {**cells[name], "method": "bc", "seed": 9}
    suite = {"name": "known", "methods": list(known), "regimes": [{"name": "lvl"}]}
    manifest = {"suite": suite, "cells": cells, "machine": "test machine"}
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    (tmp_path / STATUS).write_text(json.dumps({name: {"state": "failed", "error": "boom"}}))
    report = build_report(tmp_path)
    (level,) = report.data["levels"]
    rows = {r["method"]: r for r in level["rows"]}
    bc = np.array(known["bc"])
    assert rows["bc"]["iqm"]["value"] == pytest.approx(_iqm_by_hand(bc))  # mean of .4 .5 .7
    assert rows["bc"]["iqm"]["value"] == pytest.approx((0.4 + 0.5 + 0.7) / 3)
    low, high = _bootstrap_by_hand([bc], _iqm_by_hand, reps=10_000, seed=0)
    assert (rows["bc"]["iqm"]["low"], rows["bc"]["iqm"]["high"]) == pytest.approx((low, high))
    assert rows["flow-policy"]["runs"] == 4 and rows["flow-policy"]["mean"][
        "value"
    ] == pytest.approx(0.75)
    assert rows["bc"]["reached_90"] == 0  # no run recorded reaching 90% in its eval.json
    assert level["failed"] == {name: "boom"}
    assert level["missing"] == ["pointmaze-umaze/lvl/bc-s9"]
    md = report.markdown.read_text()
    assert "| bc | 5/6 | 53.3 [" in md
    assert f"failed cells: {name} (boom)" in md and "missing cells: pointmaze-umaze/lvl/bc-s9" in md


def test_report_shows_the_focus_margins_and_published_figures(tmp_path):
    known = {"bc": [0.2, 0.9, 0.5, 0.7, 0.4], "flow-policy": [0.6, 0.6, 1.0, 0.8, 0.9]}
    cells = {}
    for method, scores in known.items():
        for seed, score in enumerate(scores):
            name = f"pointmaze-umaze/lvl/{method}-s{seed}"
            cells[name] = {
                "task": "pointmaze-umaze",
                "regime": "lvl",
                "method": method,
                "seed": seed,
            }
            _fake_run(tmp_path / "runs" / name, method, seed, score)
    suite = {
        "name": "known",
        "methods": list(known),
        "regimes": [{"name": "lvl"}],
        "focus": "flow-policy",
        "published": {"source": "a paper", "scores": {"lvl": {"bc": 52.7, "flow-policy": 90.0}}},
    }
    (tmp_path / MANIFEST).write_text(json.dumps({"suite": suite, "cells": cells}))
    report = build_report(tmp_path)
    (level,) = report.data["levels"]
    (margin,) = level["margins"]  # flow-policy against bc only
    flow, bc = np.array(known["flow-policy"]), np.array(known["bc"])
    assert margin["method"] == "bc"
    assert margin["iqm_difference"]["value"] == pytest.approx(_iqm_by_hand(flow) - _iqm_by_hand(bc))
    wins = sum((x > y) + 0.5 * (x == y) for x in flow for y in bc) / 25
    assert margin["p_better"]["value"] == pytest.approx(wins)
    # the focus method leads the table, whatever the suite's order
    assert [r["method"] for r in level["rows"]] == ["flow-policy", "bc"]
    assert [r["published"] for r in level["rows"]] == pytest.approx([0.9, 0.527])
    md = report.markdown.read_text()
    assert "| bc | 5/5 | 53.3 [" in md and md.count("| 52.7 |") == 1
    assert "published: a paper (reported beside ours as found" in md
    iqm_gap = 100 * margin["iqm_difference"]["value"]
    assert f"| bc | {iqm_gap:+.1f} [" in md and "| +37.3 |" in md  # 90.0 - 52.7
    assert "P(flow-policy &gt; other)" in report.html.read_text()  # escaped


def test_a_report_of_several_levels_opens_with_a_summary(tmp_path):
    known = {("a", "bc"): [0.2, 0.4, 0.6], ("b", "bc"): [0.8, 0.9, 1.0], ("b", "gail"): [0.5]}
    cells = {}
    for (level, method), scores in known.items():
        for seed, score in enumerate(scores):
            name = f"pointmaze-umaze/{level}/{method}-s{seed}"
            cells[name] = {
                "task": "pointmaze-umaze",
                "regime": level,
                "method": method,
                "seed": seed,
            }
            _fake_run(tmp_path / "runs" / name, method, seed, score)
    suite = {
        "name": "levels",
        "methods": ["bc", "gail"],
        "regimes": [{"name": "a"}, {"name": "b"}],
        "published": {"source": "a paper", "scores": {"b": {"bc": 61.6}}},
    }
    (tmp_path / MANIFEST).write_text(json.dumps({"suite": suite, "cells": cells}))
    report = build_report(tmp_path)
    md = report.markdown.read_text()
    summary = md.split("## Summary", 1)[1].split("\n## ", 1)[0]
    assert "| method | a | b |" in summary
    assert "| bc | 40.0 [" in summary and "] | 90.0 [" in summary and "(61.6) |" in summary
    assert "| gail | - | 50.0 [50.0, 50.0] |" in summary  # no runs at level a
    assert (tmp_path / "report_files" / "summary.png").stat().st_size > 5000
    assert report.data["levels"][0]["margins"] == []  # no focus method named


def test_a_per_task_report_has_one_table_per_task_with_run_seconds(tmp_path):
    cells = {}
    for task, score in (("pointmaze-umaze", 1.0), ("pointmaze-medium", 0.5)):
        for seed in (0, 1):
            name = f"{task}/default/bc-s{seed}"
            cells[name] = {"task": task, "regime": "default", "method": "bc", "seed": seed}
            _fake_run(tmp_path / "runs" / name, "bc", seed, score)
    suite = {
        "name": "per-task",
        "tasks": ["pointmaze-umaze", "pointmaze-medium"],
        "methods": ["bc"],
        "regimes": [{"name": "default"}],
        "report_per_task": True,
    }
    (tmp_path / MANIFEST).write_text(json.dumps({"suite": suite, "cells": cells}))
    report = build_report(tmp_path)
    levels = {level["regime"]: level for level in report.data["levels"]}
    assert list(levels) == ["pointmaze-umaze / default", "pointmaze-medium / default"]
    assert levels["pointmaze-medium / default"]["rows"][0]["mean"]["value"] == pytest.approx(0.5)
    assert levels["pointmaze-umaze / default"]["rows"][0]["run_seconds"] == pytest.approx(3.0)
    assert "## pointmaze-medium / default" in report.markdown.read_text()
    # notes written by hand below the marker survive the next report
    md = report.markdown
    md.write_text(md.read_text() + f"\n{HAND_NOTES}\n\nRan beside two other runs.\n")
    again = build_report(tmp_path).markdown.read_text()
    assert again.count("Ran beside two other runs.") == 1
    assert again.index("## pointmaze-medium / default") < again.index(HAND_NOTES)


def test_the_defaults_suite_runs_every_registered_task():
    suite = load_suite("defaults")
    assert sorted(suite.tasks) == sorted(list_tasks())
    assert suite.methods == ["drail", "bc"] and len(suite.seeds) == 3
    assert suite.budget.online is None and suite.overrides == {} and suite.report_per_task


# ---- suites and the command line ------------------------------------------------------------


def test_shipped_suites_expand_to_stable_cells():
    assert set(shipped_suites()) >= {
        "smoke",
        "maze-generalisation",
        "maze-data-efficiency",
        "locomotion",
    }
    suite = load_suite("maze-generalisation")
    assert [r.coverage for r in suite.regimes] == [0.25, 0.5, 0.75, 1.0]
    assert {(r.demo_noise, r.successful_only) for r in suite.regimes} == {(0.5, True)}
    assert suite.budget.online <= 2_000_000 and len(suite.seeds) == 5
    names = [c.name for c in suite.cells()]
    assert len(names) == len(set(names)) == 4 * 9 * 5  # 8 methods and DRAIL's shaped form
    assert "pointmaze-medium/cov25/drail-s0" in names
    shaped = job_for(_cell(suite, "pointmaze-medium/cov25/drail-shaped-s0"), suite, Path("/o"))
    assert shaped.method == "drail" and shaped.overrides["reward"]["model"] == {
        "potential_shaping": True
    }
    assert [r.demos for r in load_suite("maze-data-efficiency").regimes] == [5, 10, 25, 100]
    loco = load_suite("locomotion")
    assert loco.tasks == ["hopper", "halfcheetah", "walker2d"]
    assert [r.demos for r in loco.regimes] == [1, 5]
    defaults = load_suite("defaults").select(tasks=["merge", "highway"], methods=["bc"])
    assert [c.name for c in defaults.cells()][:2] == ["merge/default/bc-s0", "merge/default/bc-s1"]
    assert defaults.tasks == ["merge", "highway"]
    smaller = suite.select(methods=["bc", "drail"], seeds=[3], steps=5000)
    assert [c.name for c in smaller.cells()][:2] == [
        "pointmaze-medium/cov25/bc-s3",
        "pointmaze-medium/cov25/drail-s3",
    ]
    half = suite.select(methods=["drail", "bc"], regimes=["cov50"], seeds=[0, 1])
    assert [c.name for c in half.cells()] == [
        f"pointmaze-medium/cov50/{m}-s{s}" for s in (0, 1) for m in ("drail", "bc")
    ]
    job = job_for(smaller.cells()[1], smaller, Path("/o"))
    assert job.steps == 5000 and job.overrides["coverage"] == 0.25
    assert job.demos == "/o/data/pointmaze-medium-cov0.25-noise1-act0.5-successful.hdf5"


@pytest.mark.parametrize(
    "path",
    sorted((Path(__file__).parents[1] / "benchmarks" / "suites").glob("*.yaml")),
    ids=lambda p: p.stem,
)
def test_variant_suites_in_benchmarks_resolve_every_cell(path):
    """The variant suites the docs tell users to run (benchmarks/suites/*.yaml) load, and every
    cell resolves a config (unknown or mistyped settings would fail here) that carries the
    suite's overrides and budget."""
    from diffil.algorithms.methods import get_method
    from diffil.algorithms.run import new_run_config
    from diffil.utils.config import deep_merge

    suite = load_suite(path)
    assert suite.name == path.stem and suite.cells()
    for cell in suite.cells():
        job = job_for(cell, suite, Path("/o"))
        config = new_run_config(
            job.method, job.task, demos=job.demos, steps=job.steps, overrides=job.overrides
        )
        if suite.budget.online is not None and not get_method(cell.base_method).offline:
            assert config.steps == suite.budget.online, cell.name
        resolved = yaml.safe_load(config.to_yaml())
        assert deep_merge(resolved, suite.method_overrides(cell.method)) == resolved, cell.name


PACKS = Path(__file__).parents[1] / "benchmarks" / "results" / "bench"


@pytest.mark.parametrize("pack", sorted(PACKS.glob("*_cells")), ids=lambda p: p.name)
def test_packed_cells_hold_the_config_their_suite_gives_them_today(pack):
    """The packs behind the reports (benchmarks/results/bench/*_cells) were trained as their
    suite's YAML says: seed 0 of every method and level (seeds differ only in the seed), as the
    check that `bench run` makes before it reuses a cell. An edited suite or preset fails here:
    run the suite's cells again, or pin the old setting in the suite (as the covered-training
    suite does), or, for a setting new in the config, have read_run_config read old runs as
    they trained."""
    from diffil.bench.reuse import differing_settings

    name = json.loads((pack / MANIFEST).read_text())["suite"]["name"]
    path = Path(__file__).parents[1] / "benchmarks" / "suites" / f"{name}.yaml"
    suite = load_suite(path if path.is_file() else name)
    checked = 0
    for cell in suite.cells():
        job = job_for(cell, suite, pack)
        if cell.seed == suite.seeds[0] and (Path(job.path) / "eval.json").is_file():
            assert differing_settings(job, Path(job.path)) == [], cell.name
            checked += 1
    assert checked


def test_demonstrations_can_come_from_another_reset_noise_than_training(tmp_path):
    suite = load_suite("fetch-push").select(methods=["bc"], seeds=[0])
    cells = {c.regime.name: c for c in suite.cells()}
    job = job_for(cells["noise1.5"], suite, tmp_path)
    # trained and evaluated at 1.5x, from demonstrations made at 1.0x (as the DRAIL paper's Push)
    assert job.overrides["noise"] == 1.5 and job.demos.endswith("fetch-push-cov1-noise1.hdf5")
    assert job_for(cells["noise1"], suite, tmp_path).demos == job.demos
    sources = demo_sources(suite, [cells["noise1.5"]])
    ensure_demonstrations(tmp_path, {source: 2 for source in sources}, say=lambda _: None)
    dataset = diffil.load_dataset(job.demos)
    assert len(dataset) == 2 and dataset.metadata["variant"]["noise"] == 1.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tasks: [pointmaze-umaze]\nmethods: [bc]\nseeds: 0\n", "seeds must be >= 1"),
        ("tasks: [pointmaze-umaze]\nmethods: [nope]\n", "unknown method 'nope'"),
        ("tasks: [hopper]\nmethods: [bc]\nregimes: [{name: a, coverage: 0.5}]\n", "maze tasks"),
        ("tasks: [hopper]\nmethods: [bc]\nregimes: [{name: a, demo_noise: 0.5}]\n", "scripted"),
        (
            "tasks: [hopper]\nmethods: [bc]\nregimes: [{name: a, demo_reset_noise: 1.5}]\n",
            "scripted",
        ),
        ("tasks: [pointmaze-umaze]\nmethods: [bc]\nbudget: {online: 1, gpu: 2}\n", "gpu"),
        (
            "tasks: [pointmaze-umaze]\nmethods: [bc]\nregimes: [{name: a, augment: 4}]\n",
            "augment needs demos",
        ),
        (
            "tasks: [pointmaze-umaze]\nmethods: [bc]\n"
            "regimes: [{name: a, demos: 5, augment: 4, augment_starts: middle}]\n",
            "augment_starts must be one of demos, resets",
        ),
        (
            "tasks: [highway]\nmethods: [bc]\nregimes: [{name: a, demos: 5, augment: 4}]\n",
            "regime a: cannot set the simulator state of task 'highway'",
        ),
        ("tasks: [pointmaze-umaze]\nmethods: [bc]\nfocus: drail\n", "focus 'drail' is not one"),
        (
            "tasks: [pointmaze-umaze]\nmethods: [bc]\npublished: {source: x, scores: {cov9: {}}}\n",
            "names regime 'cov9', not in the suite",
        ),
        (
            "tasks: [pointmaze-umaze]\nmethods: [bc]\n"
            "published: {source: x, scores: {default: {bc: high}}}\n",
            "published.scores.default.bc must be a number",
        ),
        (
            "tasks: [pointmaze-umaze]\nmethods: [bc]\n"
            "published: {source: x, scores: {default: {nope: 1}}}\n",
            "unknown method 'nope'",
        ),
        (
            "tasks: [pointmaze-umaze, pointmaze-medium]\nmethods: [bc]\nreport_per_task: true\n"
            "published: {source: x, scores: {default: {bc: 50}}}\n",
            "published figures are per regime",
        ),
        (
            "tasks: [pointmaze-umaze]\nmethods: [bc, gail]\n"
            "variants: {gail: {method: bc, overrides: {bc: {steps: 5}}}}\n",
            "bad variant name 'gail' \\(a variant may not take a method's name\\)",
        ),
        (
            "tasks: [pointmaze-umaze]\nmethods: [bc-short]\n"
            "variants: {bc-short: {method: bc, overrides: {bc: {steps: 5}}}}\n",
            "runs the variant 'bc-short' but not its method 'bc'",
        ),
        (
            "tasks: [pointmaze-umaze]\nmethods: [bc, bc-same]\nvariants: {bc-same: {method: bc}}\n",
            "variant 'bc-same' changes nothing",
        ),
        (
            "tasks: [pointmaze-umaze]\nmethods: [bc, x]\n"
            "variants: {x: {method: nope, overrides: {a: 1}}}\n",
            "variants.x: unknown method 'nope'",
        ),
        (
            "tasks: [pointmaze-umaze]\nmethods: [bc]\nvariants: [bc]\n",
            "variants must map names to mappings",
        ),
        (
            "tasks: [pointmaze-umaze]\nmethods: [bc]\n"
            "variants: {bc-x: {method: bc, overrides: {a: 1}}}\n",
            "variant 'bc-x' is not one of the suite's methods",
        ),
        (
            "tasks: [pointmaze-umaze]\nmethods: [bc, bc-x]\n"
            "variants: {bc-x: {method: bc, overrides: {a: 1}, lr: 2}}\n",
            "unknown suite.variants.bc-x key\\(s\\) lr",
        ),
        ("tasks: [pointmaze-umaze]\n", "misses 'methods'"),
        ("[1, 2]\n", "a suite is a mapping"),
    ],
)
def test_bad_suite_files_are_one_line_errors(tmp_path, text, message):
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    with pytest.raises(DiffilError, match=message) as err:
        load_suite(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_cli_bench_list_and_one_line_errors(capsys):
    assert main(["bench", "list"]) == 0
    assert "maze-generalisation" in capsys.readouterr().out
    assert main(["bench", "run", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("diffil: error: unknown suite 'nope'; choose from: defaults, fetch-push")
    assert main(["bench", "run", "smoke", "--methods", "bc,drail"]) == 2
    assert capsys.readouterr().err.strip().endswith("choose from: bc, gail")
    assert main(["bench", "run", "smoke", "--tasks", "hopper"]) == 2
    err = capsys.readouterr().err.strip()
    assert "task 'hopper' is not in suite 'smoke'" in err and err.endswith("pointmaze-umaze")
    assert main(["bench", "run", "maze-generalisation", "--regimes", "cov60"]) == 2
    err = capsys.readouterr().err.strip()
    assert "regime 'cov60' is not in suite" in err and err.endswith("cov75, cov100")
    assert main(["bench", "report", "/nonexistent-bench"]) == 2
    assert "not a bench folder" in capsys.readouterr().err


def test_augmented_regime_trains_on_real_then_synthetic_demos(tmp_path):
    """A regime with ``augment`` makes one synthetic set from its first ``demos`` episodes, and
    its cells train on all of it; the report says what the generator kept and rejected."""
    path = tmp_path / "aug.yaml"
    path.write_text(
        "name: aug\ntasks: [pointmaze-umaze]\nmethods: [bc]\nseeds: [0]\n"
        "budget: {offline: 20}\n"
        "overrides: {eval: {episodes: 3, final_episodes: 3}}\n"  # data flow, not success
        "regimes:\n  - {name: real, demos: 3}\n"
        "  - {name: aug, demos: 3, augment: 2, augment_steps: 5}\n"
    )
    out = tmp_path / "bench"
    summary = run_suite(load_suite(path).select(regimes=["aug"]), out, workers=1, say=print)
    assert not summary.failed
    real = diffil.load_dataset(out / "data" / "pointmaze-umaze-cov1-noise1.hdf5")
    augmented_path = out / "data" / "pointmaze-umaze-cov1-noise1-first3-aug2-steps5.hdf5"
    augmented = diffil.load_dataset(augmented_path)
    assert [t.synthetic for t in augmented][:3] == [False] * 3
    assert all(t.synthetic for t in list(augmented)[3:])
    for a, b in zip(list(augmented)[:3], list(real)[:3], strict=True):
        np.testing.assert_array_equal(a.actions, b.actions)
    config = yaml.safe_load((out / "runs" / "pointmaze-umaze/aug/bc-s0/config.yaml").read_text())
    assert config["demos"] == str(augmented_path) and config["num_demos"] == 9
    record = json.loads((out / MANIFEST).read_text())["demonstrations"][augmented_path.name]
    assert record["generated"] == 6 and record["regimes"] == ["aug"]
    assert record["kept"] == len(augmented) - 3
    assert record["kept"] + sum(record["rejected"].values()) == 6
    assert record["state_gap_median"] == augmented.metadata["augmentation"]["state_gap_median"]
    (line,) = build_report(out).data["levels"][0]["synthetic_demos"]
    assert line.startswith(f"pointmaze-umaze: 3 real + {record['kept']} synthetic")
    # the other arm, trained beside it into its own folder: two packs into one folder add up
    other = tmp_path / "bench-real"
    assert not run_suite(load_suite(path).select(regimes=["real"]), other, 1, say=print).failed
    packed = tmp_path / "packed"
    pack_bench(out, packed)
    pack_bench(other, packed)
    manifest = json.loads((packed / MANIFEST).read_text())
    assert set(manifest["cells"]) == {"pointmaze-umaze/aug/bc-s0", "pointmaze-umaze/real/bc-s0"}
    assert len(manifest["history"]) == 2 and augmented_path.name in manifest["demonstrations"]
    levels = {level["regime"]: level for level in build_report(packed).data["levels"]}
    assert levels["aug"]["synthetic_demos"] == [line] and levels["real"]["synthetic_demos"] == []


def test_a_cell_on_shipped_demonstrations_is_copied_for_a_cell_without_its_own(tmp_path):
    """A suite cell with no demonstrations of its own trains on the task's shipped ones (the
    `defaults` suite on hopper); a finished cell that trained on those is reusable for it, and
    one that trained on other demonstrations is not."""
    from dataclasses import replace

    from diffil.algorithms.run import new_run_config, train
    from diffil.bench.cell import CellJob
    from diffil.bench.reuse import _shipped_demos, why_not_reusable
    from diffil.datasets import shipped_demonstrations

    source = tmp_path / "source"
    cell = source / "runs" / "hopper" / "default" / "bc-s0"
    overrides = {"bc": {"steps": 10}, "eval": {"episodes": 1, "final_episodes": 1}}
    job = CellJob(
        name="hopper/default/bc-s0",
        path=str(tmp_path / "fresh" / "runs" / "hopper" / "default" / "bc-s0"),
        method="bc",
        task="hopper",
        seed=0,
        overrides=overrides,
    )
    train("bc", "hopper", seed=0, out=cell, overrides=overrides, progress=False)
    assert why_not_reusable(job, cell, source) is None

    other = tmp_path / "other.hdf5"
    shutil.copyfile(shipped_demonstrations("hopper"), other)
    with h5py.File(other, "r+") as f:  # one action of one episode changed
        episode = sorted(k for k in f if k.startswith("episode_"))[0]
        f[episode]["actions"][0, 0] += 0.01
    changed = source / "runs" / "hopper" / "default" / "bc-s1"
    train("bc", "hopper", demos=other, seed=1, out=changed, overrides=overrides, progress=False)
    assert why_not_reusable(replace(job, seed=1), changed, source) == "its demonstrations differ"
    # a method that learns from no demonstrations (PPO on the true reward) is not given any
    assert _shipped_demos(new_run_config("ppo", "hopper")) is None
    assert _shipped_demos(new_run_config("bc", "hopper")) == str(shipped_demonstrations("hopper"))

"""The ``diffil`` command. Each subcommand is a thin layer over a function of :mod:`diffil.api`;
the modules of this package group them by what they act on (data, train, runs, experts, bench,
toys), with their shared options in :mod:`diffil.cli.common`.

Errors the user can fix are printed as one line, ``diffil: error: <where>: <what>; <fix>``, with
exit status 2; they never show a stack trace. Anything else that goes wrong is one line too,
``diffil: error: <type>: <message>``, with exit status 1; ``diffil --debug ...`` (or
``DIFFIL_DEBUG=1``) prints the traceback of either kind.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback

import click

from diffil.cli.bench import bench_group
from diffil.cli.data import augment, collect, data_group, methods, tasks
from diffil.cli.experts import expert_group
from diffil.cli.runs import evaluate, export, reward_eval, reward_map
from diffil.cli.toys import demo_group
from diffil.cli.train import compare, quickstart, train
from diffil.errors import DiffilError, describe

DEBUG_ENV = "DIFFIL_DEBUG"
_debug = False  # set by --debug for the command being run


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="diffil")
@click.option(
    "--debug", is_flag=True, help=f"Show the traceback of an error (or set {DEBUG_ENV}=1)."
)
def app(debug: bool) -> None:
    """Diffusion-based imitation learning and inverse RL."""
    global _debug
    _debug = _debug or debug


for command in (tasks, methods, collect, augment, data_group, train, quickstart, compare):
    app.add_command(command)
for command in (evaluate, export, reward_map, reward_eval, expert_group, demo_group, bench_group):
    app.add_command(command)


def _terminate_like_ctrl_c(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``diffil`` console script; returns the exit status.

    SIGTERM (``kill PID``, a scheduler's preemption, ``docker stop``) stops a command the way
    Ctrl-C does, so training saves its checkpoint. Jobs started with ``&`` from a script ignore
    Ctrl-C's SIGINT, which leaves ``kill`` as the way to stop them."""
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate_like_ctrl_c) if on_main_thread else None
    try:
        return _run(argv)
    finally:
        if on_main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _run(argv: list[str] | None) -> int:
    global _debug
    _debug = os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")
    try:
        app.main(args=argv, prog_name="diffil", standalone_mode=False)
    except DiffilError as err:
        if _debug:
            traceback.print_exc()
        print(f"diffil: error: {err}", file=sys.stderr)
        return err.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        print("diffil: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or an unforeseen failure: still one line unless --debug
        if _debug:
            traceback.print_exc()
        hint = "" if _debug else " (run with --debug for the traceback)"
        print(f"diffil: error: {describe(exc)}{hint}", file=sys.stderr)
        return 1
    return 0

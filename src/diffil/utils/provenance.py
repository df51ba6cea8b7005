"""Where and with what a result was produced: the machine and the package versions."""

from __future__ import annotations

import contextlib
import datetime
import importlib.metadata
import os
import platform
import sys
from pathlib import Path

# the packages whose versions a recorded result names
RESULT_PACKAGES = ("torch", "gymnasium", "gymnasium-robotics", "mujoco", "stable-baselines3")

# Everything from this line on in a Markdown results file is written by hand (conditions, caveats,
# what a run's log showed) and is carried over when the file is regenerated.
HAND_NOTES = "<!-- notes by hand below: kept when this file is regenerated -->"


def with_hand_notes(path: Path, text: str) -> str:
    """``text`` followed by the notes by hand of the file at ``path`` (if it exists and has any)."""
    if not path.is_file() or HAND_NOTES not in (old := path.read_text()):
        return text
    notes = HAND_NOTES + old.split(HAND_NOTES, 1)[1].rstrip("\n")
    return text.rstrip("\n") + "\n\n" + notes + "\n"


def machine() -> str:
    """CPU model, cores available to this process, the GPU if torch sees one, OS and Python, in
    one line."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    system = f"{platform.system()} {platform.release()}"
    torch = sys.modules.get("torch")  # a GPU is named only where torch is already in use
    gpu = ""
    if torch is not None and torch.cuda.is_available():
        gpu = f", GPU {torch.cuda.get_device_name(0)}"
    return f"{cpu}, {cores} cores{gpu}, {system}, Python {platform.python_version()}"


def versions(*packages: str) -> dict[str, str]:
    """Installed versions of diffil and ``packages`` (those not installed are left out)."""
    out = {}
    for name in ("diffil", *packages):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            out[name] = importlib.metadata.version(name)
    return out


def utc_now() -> str:
    """The current date and time, e.g. ``2025-01-31 14:05 UTC``."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")

"""Where and with what a result was produced: the machine and the package versions."""

from __future__ import annotations

import contextlib
import datetime
import importlib.metadata
import os
import platform
from pathlib import Path

# the packages whose versions a recorded result names
RESULT_PACKAGES = ("torch", "gymnasium", "gymnasium-robotics", "mujoco", "stable-baselines3")


def machine() -> str:
    """CPU model, cores available to this process, OS and Python, in one line."""
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
    return f"{cpu}, {cores} cores, {system}, Python {platform.python_version()}"


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

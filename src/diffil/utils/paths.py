"""Paths as shown to users."""

from __future__ import annotations

from os import PathLike
from pathlib import Path


def shown_path(path: str | PathLike) -> str:
    """``path`` relative to the working directory when it is below it, else as given."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)

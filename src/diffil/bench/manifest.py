"""A bench folder's records: ``bench.json`` (the suite, every run into the folder, the
demonstrations' digests, cells copied in and where they were trained) and ``status.json`` (each
cell's last outcome), read and written whole."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from diffil.errors import DiffilError

MANIFEST = "bench.json"
STATUS = "status.json"


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object file of the bench folder, {} if absent; one-line error if unreadable."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DiffilError(f"cannot read it ({exc})", "delete it and run again", path) from None
    if not isinstance(data, dict):
        raise DiffilError("is not a JSON object", "delete it and run again", path)
    return data


def write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(path)


def run_history(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The runs recorded in a bench.json (command, machine, executor, start), oldest first; a
    folder written before the history was kept has its last run only."""
    if not manifest:
        return []
    if "history" in manifest:
        return list(manifest["history"])
    keys = ("command", "machine", "executor", "started")
    return [{k: manifest.get(k) for k in keys}]

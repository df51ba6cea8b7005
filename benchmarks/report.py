"""Recording benchmark results with the command, machine and date that produced them."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

from diffil.utils.provenance import RESULT_PACKAGES, machine, utc_now, versions, with_hand_notes

RESULTS = Path(__file__).parent / "results"


def write_result(
    name: str, title: str, table_md: str, data: dict[str, Any], notes: str = ""
) -> Path:
    """Write ``results/<name>.md`` (for people) and ``results/<name>.json``; returns the .md.

    A rewritten .md keeps the old file's notes by hand: everything from its ``HAND_NOTES`` line on.
    """
    RESULTS.mkdir(exist_ok=True)
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    script = f"-m {spec.name}" if spec is not None else shlex.quote(sys.argv[0])
    command = f"python {script} " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    header = {
        "command": command,
        "machine": machine(),
        "date": utc_now(),
        "versions": versions(*RESULT_PACKAGES),
    }
    md = [f"# {title}", ""]
    md += [f"- **{k}**: `{v}`" if k == "command" else f"- **{k}**: {v}" for k, v in header.items()]
    md += ["", table_md.strip(), ""]
    if notes:
        md += [notes.strip(), ""]
    path = RESULTS / f"{name}.md"
    path.write_text(with_hand_notes(path, "\n".join(md)))
    (RESULTS / f"{name}.json").write_text(json.dumps({**header, **data}, indent=2, default=float))
    return path

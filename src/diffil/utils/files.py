"""Writing files so that a crash or a full disk never leaves a half-written one in place."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from diffil.errors import DiffilError


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` on a temporary file next to ``path``, then move it into place.

    The writer creates the temporary file itself, so it gets the usual permissions (not
    mkstemp's 0600). An OS error (read-only folder, full disk) is one line naming ``path``; the
    previous file, if any, is left as it was.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        reason = exc.strerror or (str(exc).strip().splitlines() or [""])[0][:120]
        raise DiffilError(
            f"cannot write here ({reason})", "choose a writable path", where=path
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)

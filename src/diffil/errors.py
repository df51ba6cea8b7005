"""User-facing errors.

Every problem a user can cause (a bad file, a wrong shape, an unknown name) is raised as a
:class:`DiffilError`. The CLI prints it as one line, ``diffil: error: <where>: <what>; <fix>``,
and exits with status 2; Python callers can catch it like any exception.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike


class DiffilError(Exception):
    """A problem with the user's input, explained in one line with what to do about it."""

    exit_code = 2

    def __init__(self, what: str, fix: str | None = None, where: str | PathLike | None = None):
        self.what = what
        self.fix = fix
        self.where = None if where is None else str(where)
        super().__init__(str(self))

    def __str__(self) -> str:
        text = self.what if self.where is None else f"{self.where}: {self.what}"
        return text if not self.fix else f"{text}; {self.fix}"

    def at(self, where: str | PathLike) -> DiffilError:
        """The same error, attributed to ``where`` (a file) if it has no location yet."""
        if self.where is None:
            self.where = str(where)
            self.args = (str(self),)
        return self


class TrainingInterrupted(DiffilError):
    """Training stopped by Ctrl-C or SIGTERM after saving a checkpoint; the message says how to
    resume. Exits 130, as an interrupted shell command does."""

    exit_code = 130


def describe(exc: BaseException, limit: int = 160) -> str:
    """``<type>: <first line of the message>`` of an exception, e.g. ``zlib.error: ...``."""
    kind = type(exc)
    module = kind.__module__.split(".")[0].lstrip("_")
    name = kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else ""
    if len(message) > limit:
        message = message[: limit - 3] + "..."
    return f"{name}: {message}" if message else name


@contextmanager
def reading(path: str | PathLike, what: str, fix: str) -> Iterator[None]:
    """Turn any failure inside the block into one :class:`DiffilError` about ``path``.

    Wrap the code that reads and parses a user's file (``what``: "dataset", "policy file",
    "checkpoint", ...): whatever the library underneath raises on a truncated, corrupt or foreign
    file (zlib, zipfile, h5py, pickle, YAML, a shape mismatch) becomes ``<path>: cannot read
    this <what>: it is corrupt or truncated, or not a <what> (<type>: <message>); <fix>``.
    A :class:`DiffilError` raised inside keeps its message and gets ``path`` if it has no
    location; Ctrl-C and other non-``Exception`` signals pass through unchanged. Warnings the
    libraries give while failing (torch on a garbled pickle) are dropped with the failure;
    after a successful read they are passed on.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        except DiffilError as err:
            raise err.at(path) from err.__cause__
        except Exception as exc:
            raise DiffilError(
                f"cannot read this {what}: it is corrupt or truncated, or not a {what} "
                f"({describe(exc)})",
                fix,
                path,
            ) from exc
    passed_on = set()
    for w in caught:
        key = (str(w.message), w.category, w.filename, w.lineno)
        if key not in passed_on:
            passed_on.add(key)
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def require_positive(values: dict[str, float]) -> None:
    """Raise a one-line :class:`DiffilError` for the first config field (name -> value) <= 0."""
    for name, value in values.items():
        if value <= 0:
            raise DiffilError(f"{name} must be > 0, got {value}", f"set a positive {name}")

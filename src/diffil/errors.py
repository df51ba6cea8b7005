"""User-facing errors.

Every problem a user can cause (a bad file, a wrong shape, an unknown name) is raised as a
:class:`DiffilError`. The CLI prints it as one line, ``diffil: error: <where>: <what>; <fix>``,
and exits with status 2; Python callers can catch it like any exception.
"""

from __future__ import annotations

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


def require_positive(values: dict[str, float]) -> None:
    """Raise a one-line :class:`DiffilError` for the first config field (name -> value) <= 0."""
    for name, value in values.items():
        if value <= 0:
            raise DiffilError(f"{name} must be > 0, got {value}", f"set a positive {name}")

"""Names that moved to another module say where they went.

A module sets ``__getattr__ = moved_names(__name__, {"old_name": "diffil.new.module"})``; then
``from diffil.old import old_name`` fails with "diffil.old.old_name moved to
diffil.new.module.old_name: import it from there" instead of Python's bare "cannot import name".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping


def moved_names(module: str, moved: Mapping[str, str]) -> Callable[[str], object]:
    """A module-level ``__getattr__`` for ``module`` whose names in ``moved`` (name -> the module
    it moved to) raise an :class:`ImportError` naming their new home; other names raise the usual
    :class:`AttributeError`."""

    def module_getattr(name: str) -> object:
        if name in moved:
            raise ImportError(
                f"{module}.{name} moved to {moved[name]}.{name}: import it from there"
            )
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return module_getattr

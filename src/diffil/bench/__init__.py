"""``diffil bench``: benchmark suites run as ordinary run directories, summarised with
statistics over seeds, locally or on Ray."""

from diffil.bench.runner import BenchSummary, run_suite
from diffil.bench.suite import Budget, Cell, Regime, Suite, load_suite, shipped_suites

__all__ = [
    "BenchSummary",
    "Budget",
    "Cell",
    "Regime",
    "Suite",
    "load_suite",
    "run_suite",
    "shipped_suites",
]

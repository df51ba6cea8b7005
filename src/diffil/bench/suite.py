"""Benchmark suites: tasks x methods x seeds x regimes, with budgets, read from YAML.

A suite file looks like this (``src/diffil/configs/suites/*.yaml`` ship by name)::

    name: maze-generalisation
    description: one line shown by `diffil bench list`
    tasks: [pointmaze-medium]
    methods: [drail, gail, bc]
    seeds: 5                   # a count (0..4) or a list of seeds
    budget:
      online: 2000000          # env steps of methods that learn a reward (RL inside)
      offline: 50000           # gradient steps of bc, diffusion-policy, flow-policy (bc.steps)
    regimes:                   # the protocol levels; every cell of a level differs only here
      - name: cov25
        coverage: 0.25         # mazes: fraction of start/goal cells demos (and RL) see
        demos: 100             # demonstrations used (default: the task preset's num_demos)
        demo_noise: 0.5        # std of Gaussian noise on every expert action (scripted experts)
        successful_only: true  # keep only demonstrations that succeed
        eval_noise: 1.0        # reset-noise scale, in training and evaluation alike
        demo_reset_noise: 1.0  # reset-noise scale the demonstrations are made at (scripted
                               # experts; default: eval_noise)
        augment: 4             # add 4 synthetic episodes per real one (`diffil augment`; needs
                               # demos); 0: none
        augment_steps: 4000    # the generator's training steps (default: diffil augment's)
        augment_starts: demos  # synthetic episodes start where the demos do, or at resets
    overrides: {}              # config fields for every cell (never per method)
    variants:                  # named forms of a method, each reported as a method of its own
      drail-shaped:            #   beside its base method (which the suite must run too)
        method: drail
        overrides: {reward: {model: {potential_shaping: true}}}
        description: DRAIL in AIRL's shaped form
    report_per_task: false     # one report table per task and regime (default: per regime,
                               # pooling the tasks)
    focus: drail               # the report shows this method's margin over every other one
                               # (a list: one margin table per method named)
    published:                 # the references' own figures, shown beside diffil's
      source: reference 000's maze table (25M env steps, 5 seeds)
      scores:                  # regime -> method -> score on the report's x100 scale
        cov25: {bc: 52.7, drail: 91.0}

A variant is how a suite compares a changed setting fairly: the change is a method with its own
name and rows beside its base method's, never an override slipped into one method's cells.

:meth:`Suite.cells` expands a suite into :class:`Cell` objects; each has a stable directory name,
``<task>/<regime>/<method>-s<seed>``, so a second run finds the cells it has already trained.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any

import yaml

from diffil.errors import DiffilError
from diffil.utils.config import from_dict, load_yaml

SUITE_FIX = "see the suite format in docs/guides/bench.md"


@dataclass(frozen=True, kw_only=True)
class Regime:
    """One protocol level: how the demonstrations are made and how noisy resets are."""

    name: str
    coverage: float = 1.0
    demos: int | None = None
    demo_noise: float = 0.0
    successful_only: bool = False
    eval_noise: float = 1.0
    # the reset-noise scale the scripted expert demonstrates at; None: eval_noise. Reference
    # 000's Push study trains and evaluates at 1.0-2.0x from demonstrations made at 1.0x.
    demo_reset_noise: float | None = None
    # synthetic episodes per real one, made once per task and regime by `diffil augment` from the
    # regime's first `demos` demonstrations and trained on with them (reference 002's data
    # generation); 0: real demonstrations only
    augment: int = 0
    augment_steps: int | None = None  # the generator's training steps (None: its default)
    augment_starts: str = "demos"  # where synthetic episodes start: "demos" or "resets"

    def validate(self, where: str) -> Regime:
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise DiffilError(f"{where}: bad regime name {self.name!r}", "use e.g. cov25")
        if not 0.0 < self.coverage <= 1.0:
            raise DiffilError(f"{where}: coverage must be in (0, 1]", "e.g. coverage: 0.5")
        if self.demos is not None and self.demos < 1:
            raise DiffilError(f"{where}: demos must be >= 1", "e.g. demos: 25")
        if self.demo_noise < 0 or self.eval_noise < 0 or (self.demo_reset_noise or 0) < 0:
            raise DiffilError(f"{where}: noise must be >= 0", "e.g. demo_noise: 0.5")
        if self.augment < 0:
            raise DiffilError(f"{where}: augment must be >= 0", "e.g. augment: 4")
        if self.augment and self.demos is None:
            raise DiffilError(
                f"{where}: augment needs demos (how many real episodes the generator learns from)",
                "e.g. demos: 5",
            )
        from diffil.planning.augment import START_CHOICES

        if self.augment_starts not in START_CHOICES:
            raise DiffilError(
                f"{where}: augment_starts must be one of {', '.join(START_CHOICES)}",
                "e.g. augment_starts: resets",
            )
        if self.augment_steps is not None and self.augment_steps < 1:
            raise DiffilError(f"{where}: augment_steps must be >= 1", "e.g. augment_steps: 4000")
        return self

    @property
    def demo_variant_noise(self) -> float:
        """The reset-noise scale of the task variant the demonstrations are made on."""
        return self.eval_noise if self.demo_reset_noise is None else self.demo_reset_noise

    @property
    def makes_own_demos(self) -> bool:
        """The demonstrations differ from the plain scripted expert's (noise, filtering)."""
        return (
            self.demo_noise > 0
            or self.successful_only
            or self.demo_variant_noise != self.eval_noise
        )


@dataclass(frozen=True, kw_only=True)
class Published:
    """The references' own figures for a suite's levels, which the report prints beside diffil's
    (reported as found: nothing in a run reads them)."""

    source: str  # where they come from: paper, table, budget, seeds
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # regime -> method -> x100

    def validate(self, where: str, regimes: list[str], variants: list[str]) -> Published:
        from diffil.algorithms.methods import get_method

        if not self.source.strip():
            raise DiffilError(f"{where}: published.source is empty", "name the paper and table")
        for regime, row in self.scores.items():
            if regime not in regimes:
                raise DiffilError(
                    f"{where}: published.scores names regime {regime!r}, not in the suite",
                    f"choose from: {', '.join(regimes)}",
                )
            if not isinstance(row, dict):
                raise DiffilError(
                    f"{where}: published.scores.{regime} must map methods to scores",
                    "e.g. cov50: {drail: 96.8, bc: 61.6}",
                )
            for method, score in row.items():
                try:
                    if method not in variants:
                        get_method(method)
                except DiffilError as err:
                    raise DiffilError(f"{where}: published.scores.{regime}: {err}") from None
                if isinstance(score, bool) or not isinstance(score, (int, float)):
                    raise DiffilError(
                        f"{where}: published.scores.{regime}.{method} must be a number, got "
                        f"{score!r}",
                        "write the paper's figure on the report's x100 scale, e.g. 96.8",
                    )
        return self


@dataclass(frozen=True, kw_only=True)
class MethodVariant:
    """A method of a suite that is another method with config overrides (e.g. DRAIL with
    ``reward.model.potential_shaping``); its cells, rows and margins carry the variant's name."""

    method: str  # the registered method it trains
    overrides: dict[str, Any] = field(default_factory=dict)  # on top of the suite's overrides
    description: str = ""

    def validate(self, where: str, name: str, methods: list[str]) -> MethodVariant:
        from diffil.algorithms.methods import METHODS, get_method

        if not name or "/" in name or name.startswith(".") or name in METHODS:
            raise DiffilError(
                f"{where}: bad variant name {name!r} (a variant may not take a method's name)",
                "use e.g. drail-shaped",
            )
        try:
            get_method(self.method)
        except DiffilError as err:
            raise DiffilError(f"{where}: {err}") from None
        if self.method not in methods:
            raise DiffilError(
                f"{where}: the suite runs the variant {name!r} but not its method {self.method!r}",
                f"add {self.method} to methods, so the report shows what the variant changes",
            )
        if not self.overrides:
            raise DiffilError(f"{where}: variant {name!r} changes nothing", "give it overrides")
        return self


@dataclass(frozen=True, kw_only=True)
class Budget:
    """Training budget per method family; None keeps the task's preset."""

    online: int | None = None  # env steps of reward-learning methods (TrainConfig.steps)
    offline: int | None = None  # gradient steps of offline methods (TrainConfig.bc.steps)


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One training run of a suite: a task, a regime, a method and a seed."""

    task: str
    regime: Regime
    method: str  # the suite's name for it: a registered method or a variant
    seed: int
    base: str | None = None  # a variant's registered method (None: ``method`` is one)

    @property
    def base_method(self) -> str:
        """The registered method this cell trains."""
        return self.base or self.method

    @property
    def name(self) -> str:
        """The cell's directory below the suite's ``runs/`` folder (stable across runs)."""
        from diffil.envs.task import task_file_stem

        return f"{task_file_stem(self.task)}/{self.regime.name}/{self.method}-s{self.seed}"


@dataclass(kw_only=True)
class Suite:
    """A benchmark: every task x regime x method x seed is one :class:`Cell`."""

    name: str
    tasks: list[str]
    methods: list[str]
    seeds: list[int]
    regimes: list[Regime]
    budget: Budget = field(default_factory=Budget)
    overrides: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    report_per_task: bool = False  # report tables per task x regime, not pooled over tasks
    focus: list[str] = field(default_factory=list)  # the report shows each one's margins
    published: Published | None = None  # the references' figures, printed beside diffil's
    variants: dict[str, MethodVariant] = field(default_factory=dict)  # methods by overrides

    def validate(self, where: str) -> Suite:
        """One-line :class:`DiffilError` for unknown tasks or methods, duplicates, empty lists."""
        from diffil.algorithms.methods import get_method
        from diffil.envs.registry import get_task

        for key in ("tasks", "methods", "seeds", "regimes"):
            if not getattr(self, key):
                raise DiffilError(f"{where}: {key} is empty", SUITE_FIX)
        names = [r.name for r in self.regimes]
        if len(set(names)) < len(names):
            raise DiffilError(f"{where}: regime names repeat ({', '.join(names)})", SUITE_FIX)
        for i, regime in enumerate(self.regimes):
            regime.validate(f"{where}: regimes[{i}]")
        for name, variant in self.variants.items():
            variant.validate(f"{where}: variants.{name}", name, self.methods)
            if name not in self.methods:
                raise DiffilError(
                    f"{where}: variant {name!r} is not one of the suite's methods",
                    f"add {name} to methods to run it, or drop the variant",
                )
        for method in self.methods:
            if method in self.variants:
                continue
            try:
                get_method(method)
            except DiffilError as err:
                raise DiffilError(f"{where}: {err}") from None
        for task in self.tasks:
            spec = get_task(task)
            for regime in self.regimes:
                try:
                    spec.variant(noise=regime.eval_noise, coverage=regime.coverage)
                    spec.variant(noise=regime.demo_variant_noise, coverage=regime.coverage)
                except DiffilError as err:
                    raise DiffilError(f"{where}: regime {regime.name}: {err.what}") from None
                if regime.makes_own_demos and not _has_scripted_expert(spec):
                    raise DiffilError(
                        f"{where}: regime {regime.name}: demo_noise, successful_only and "
                        f"demo_reset_noise need a task with a scripted expert, not {task!r}",
                        "drop them for this task",
                    )
                if regime.augment:
                    _check_augmentable(spec, regime, where)
        for focus in self.focus:
            if focus not in self.methods:
                raise DiffilError(
                    f"{where}: focus {focus!r} is not one of the suite's methods",
                    f"choose from: {', '.join(self.methods)}",
                )
        if self.published is not None:
            self.published.validate(where, names, list(self.variants))
            if self.report_per_task and len(self.tasks) > 1:
                raise DiffilError(
                    f"{where}: published figures are per regime, and this report has a table per "
                    "task",
                    "give each task its own suite, or drop report_per_task",
                )
        for label, value in (("online", self.budget.online), ("offline", self.budget.offline)):
            if value is not None and value < 1:
                raise DiffilError(f"{where}: budget.{label} must be >= 1", SUITE_FIX)
        return self

    def select(
        self,
        methods: Sequence[str] | None = None,
        seeds: Sequence[int] | None = None,
        steps: int | None = None,
        tasks: Sequence[str] | None = None,
        regimes: Sequence[str] | None = None,
    ) -> Suite:
        """The suite restricted to ``methods``, ``tasks`` and ``regimes`` (names, of the
        suite's), run with ``seeds``, and with ``steps`` env steps for online methods; one-line
        error listing the choices."""
        chosen = _subset(self.methods, methods, "method", self.name)
        chosen_tasks = _subset(self.tasks, tasks, "task", self.name)
        by_name = {regime.name: regime for regime in self.regimes}
        chosen_regimes = [
            by_name[name] for name in _subset(list(by_name), regimes, "regime", self.name)
        ]
        budget = self.budget if steps is None else dataclasses.replace(self.budget, online=steps)
        if steps is not None and steps < 1:
            raise DiffilError(f"--steps must be >= 1, got {steps}", "pass e.g. --steps 100000")
        return dataclasses.replace(
            self,
            methods=chosen,
            tasks=chosen_tasks,
            regimes=chosen_regimes,
            seeds=list(dict.fromkeys(seeds)) if seeds else list(self.seeds),
            budget=budget,
        )

    def method_overrides(self, method: str) -> dict[str, Any]:
        """The config fields of ``method``'s cells: the suite's overrides, then a variant's."""
        from diffil.utils.config import deep_merge

        variant = self.variants.get(method)
        return self.overrides if variant is None else deep_merge(self.overrides, variant.overrides)

    def cells(self) -> list[Cell]:
        """Every cell, ordered task, regime, seed, method (so early results span methods)."""
        return [
            Cell(
                task=task,
                regime=regime,
                method=method,
                seed=seed,
                base=self.variants[method].method if method in self.variants else None,
            )
            for task in self.tasks
            for regime in self.regimes
            for seed in self.seeds
            for method in self.methods
        ]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _subset(have: list[str], wanted: Sequence[str] | None, what: str, suite: str) -> list[str]:
    """``wanted`` (in its order, without repeats) if all of them are in ``have``, else all of
    ``have``; a one-line error names the first stranger and the choices."""
    if not wanted:
        return list(have)
    unknown = [w for w in wanted if w not in have]
    if unknown:
        raise DiffilError(
            f"{what} {unknown[0]!r} is not in suite {suite!r}", f"choose from: {', '.join(have)}"
        )
    return list(dict.fromkeys(wanted))


def _has_scripted_expert(spec: Any) -> bool:
    from diffil.experts import has_scripted_expert

    return has_scripted_expert(spec)


def _check_augmentable(spec: Any, regime: Regime, where: str) -> None:
    """One line if ``regime`` augments demonstrations ``spec`` has none of, or whose simulator
    state cannot be set from observations (the dynamics check needs it)."""
    from diffil.datasets import shipped_demonstrations
    from diffil.envs.state import Replayer

    if not _has_scripted_expert(spec) and shipped_demonstrations(spec.name) is None:
        raise DiffilError(
            f"{where}: regime {regime.name}: task {spec.name!r} has no demonstrations to augment",
            "drop augment for this task",
        )
    try:
        Replayer(spec).close()
    except DiffilError as err:
        raise DiffilError(f"{where}: regime {regime.name}: {err.what}", err.fix) from None


def suite_from_dict(data: Any, where: str) -> Suite:
    """A validated :class:`Suite` from parsed YAML; one-line errors name ``where``."""
    if not isinstance(data, dict):
        raise DiffilError(f"{where}: a suite is a mapping (name, tasks, methods, ...)", SUITE_FIX)
    data = dict(data)
    seeds = data.get("seeds", 1)
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise DiffilError(f"{where}: seeds must be >= 1", SUITE_FIX)
        data["seeds"] = list(range(seeds))
    for key in ("tasks", "methods", "focus"):
        if isinstance(data.get(key), str):
            data[key] = [data[key]]
    variants = data.pop("variants", None) or {}
    if not isinstance(variants, dict) or not all(isinstance(v, dict) for v in variants.values()):
        raise DiffilError(f"{where}: variants must map names to mappings", SUITE_FIX)
    regimes = data.get("regimes") or [{"name": "default"}]
    if not isinstance(regimes, list) or not all(isinstance(r, dict) for r in regimes):
        raise DiffilError(f"{where}: regimes must be a list of mappings", SUITE_FIX)
    data["regimes"] = []
    data.setdefault("name", Path(where).stem)
    try:
        suite = from_dict(Suite, data, where="suite")
        suite.regimes = [
            from_dict(Regime, r, where=f"suite.regimes[{i}]") for i, r in enumerate(regimes)
        ]
        suite.variants = {
            str(name): from_dict(MethodVariant, v, where=f"suite.variants.{name}")
            for name, v in variants.items()
        }
    except DiffilError as err:
        raise err.at(where) from None
    except TypeError as err:  # a required field is missing
        missing = str(err).split("argument", 1)[-1].strip(": ")
        raise DiffilError(f"{where}: the suite misses {missing}", SUITE_FIX) from None
    return suite.validate(where)


def shipped_suites() -> list[str]:
    """Names of the suites diffil ships (``diffil bench list``)."""
    folder = resources.files("diffil.configs").joinpath("suites")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_suite(name_or_path: str | PathLike) -> Suite:
    """A shipped suite by name, or a suite YAML file; one-line :class:`DiffilError` otherwise."""
    text = str(name_or_path)
    path = Path(text)
    if text in shipped_suites():
        source = resources.files("diffil.configs").joinpath("suites", f"{text}.yaml")
        raw, where = source.read_text(), f"suite {text}"
    elif path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise DiffilError("no such suite file", "pass a YAML file or a shipped name", path)
        raw, where = path.read_text(), str(path)
    else:
        raise DiffilError(
            f"unknown suite {text!r}",
            f"choose from: {', '.join(shipped_suites())}, or pass a suite YAML file",
        )
    try:
        data = load_yaml(raw)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise DiffilError(f"{where}: not valid YAML{at}", SUITE_FIX) from None
    return suite_from_dict(data, where)
